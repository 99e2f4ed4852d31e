"""Clips as people send them, written by PyAV: containers without a frame count (WebM, Matroska), variable frame
rate, a phone's display-matrix rotation, 10-bit and 4:2:2, an audio stream first, odd sizes.

Every frame shows its own number as a grey level (frame i: 8 + 12 * (i % 20)) and a red block in the top-left
corner of the picture as it should be seen, so a test can tell which frame came back and whether it is upright."""
from fractions import Fraction
from pathlib import Path

import numpy as np

RED = (220, 30, 30)


def grey(i: int) -> int:
    return 8 + 12 * (i % 20)


def frame_number(image: np.ndarray) -> int:
    """The frame number (mod 20) a picture shows, read from its bottom-right quarter."""
    h, w = image.shape[:2]
    return int(round((float(image[h // 2:, w // 2:].mean()) - 8) / 12)) % 20


def is_upright(image: np.ndarray) -> bool:
    """The red block is in the top-left corner (and nowhere else)."""
    h, w = image.shape[:2]
    corners = [image[:h // 4, :w // 4], image[:h // 4, -(w // 4):], image[-(h // 4):, :w // 4],
               image[-(h // 4):, -(w // 4):]]
    redness = [float(c[..., 0].mean()) - float(c[..., 1].mean()) for c in corners]
    return redness[0] > 100 and max(redness[1:]) < 40


def picture(i: int, width: int, height: int) -> np.ndarray:
    """Frame i as it should be seen: WIDTH x HEIGHT."""
    image = np.full((height, width, 3), grey(i), np.uint8)
    image[:height // 3, :width // 3] = RED
    return image


# name -> (file suffix, codec, pixel format, displayed size, display rotation, variable rate, audio first)
KINDS = {
    'h264 mp4': ('mp4', 'libx264', 'yuv420p', (64, 48), 0, False, False),
    'vp9 webm (a browser recording)': ('webm', 'libvpx-vp9', 'yuv420p', (64, 48), 0, False, False),
    'vp9 webm, variable rate': ('webm', 'libvpx-vp9', 'yuv420p', (64, 48), 0, True, False),
    'av1 mkv': ('mkv', 'libsvtav1', 'yuv420p', (64, 48), 0, False, False),
    'ffv1 mkv, 10-bit': ('mkv', 'ffv1', 'yuv420p10le', (64, 48), 0, False, False),
    'h264 mkv, variable rate': ('mkv', 'libx264', 'yuv420p', (64, 48), 0, True, False),
    'h264 mp4, 10-bit': ('mp4', 'libx264', 'yuv420p10le', (64, 48), 0, False, False),
    'prores mov, 10-bit 4:2:2': ('mov', 'prores_ks', 'yuv422p10le', (64, 48), 0, False, False),
    'h264 mp4, audio stream first': ('mp4', 'libx264', 'yuv420p', (64, 48), 0, False, True),
    'phone portrait mp4, rotation -90': ('mp4', 'libx264', 'yuv420p', (48, 64), -90, False, False),
    'phone portrait mov, rotation 90': ('mov', 'libx264', 'yuv420p', (48, 64), 90, False, False),
    'upside-down mp4, rotation 180': ('mp4', 'libx264', 'yuv420p', (64, 48), 180, False, False),
    'vp9 webm, odd size': ('webm', 'libvpx-vp9', 'yuv420p', (63, 37), 0, False, False),
}
FPS = 10
SECONDS = 6


def stored(image: np.ndarray, rotation: int) -> np.ndarray:
    """The picture as a camera stores it for a display rotation of ROTATION degrees counter-clockwise."""
    return np.ascontiguousarray(np.rot90(image, k=-rotation // 90))


def vfr_times(n: int) -> list:
    """Frame times (s) of a clip that is slow for its first half (a quarter of the frames) and fast after: picking
    frames evenly by index would crowd them into the fast half."""
    slow = n // 4
    half = Fraction(n, 2 * FPS)  # seconds in each half
    return [Fraction(i) * half / slow if i < slow else half + Fraction(i - slow) * half / (n - slow) for i in range(n)]


def write_clip(path: Path, kind: str, seconds: int = SECONDS, gop: int = 0) -> dict:
    """Write a clip of KIND to PATH; its truth: {'times': each frame's time in s, 'size': (w, h) as displayed}."""
    import av
    suffix, codec, pix_fmt, (width, height), rotation, variable, audio_first = KINDS[kind]
    n = FPS * seconds
    times = vfr_times(n) if variable else [Fraction(i, FPS) for i in range(n)]
    with av.open(str(path), 'w') as container:
        if audio_first:
            audio = container.add_stream('aac', rate=16000)
        stream = container.add_stream(codec, rate=FPS)
        stored_h, stored_w = stored(np.zeros((height, width, 1)), rotation).shape[:2]
        stream.width, stream.height, stream.pix_fmt = stored_w, stored_h, pix_fmt
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)  # exact variable times
        if gop:
            stream.codec_context.gop_size = gop
        if codec == 'libsvtav1':
            stream.options = {'svtav1-params': 'log-level=0'}
        if rotation:
            stream.set_display_rotation(rotation)
        if audio_first:
            samples = np.zeros((1, 1024), np.float32)
            for k in range(seconds * 16):
                frame = av.AudioFrame.from_ndarray(samples, format='fltp', layout='mono')
                frame.sample_rate, frame.pts = 16000, k * 1024
                container.mux(audio.encode(frame))
            container.mux(audio.encode())
        for i, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray(stored(picture(i, width, height), rotation), format='rgb24')
            frame.pts, frame.time_base = int(t * 1000), Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return {'times': [int(t * 1000) / 1000 for t in times], 'size': (width, height)}  # as stored, in ms
