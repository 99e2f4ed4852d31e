"""Open a clip as SmolVLM2's processor samples it: a file, bytes, a base64 data URL, or a list of frame images.

Training and serving both go through here. Frames are chosen by the checkpoint's own video processor
(`SmolVLMVideoProcessor.sample_frames`: `fps` frames a second, at most `num_frames`) and read by PyAV
(clip_reader.py: frame times from the packets, frames found by seeking, turned upright). What would hurt (no frames,
too long, too many pixels a frame) is refused before any frame is decoded.
"""
import io
import os
from pathlib import Path
from typing import List, Tuple, Union

import numpy as np
from transformers.video_utils import VideoMetadata

from .clip_reader import Truncated, read_clip

from .images import ImageError, decode_base64, describe, open_image

# Limits, overridable by environment variable: 256 MiB encoded, 60 minutes (Video-MME's longest; reading seeks, so
# a clip costs the frames sampled, not its length), 4096x4096 a frame (SmolVLM's limit).
MAX_VIDEO_BYTES = int(os.environ.get('SMVL_MAX_VIDEO_BYTES', 256 * 2**20))
MAX_VIDEO_SECONDS = float(os.environ.get('SMVL_MAX_VIDEO_SECONDS', 3600))
MAX_VIDEO_PIXELS = int(os.environ.get('SMVL_MAX_VIDEO_PIXELS', 4096 * 4096))

VideoSource = Union[str, bytes, Path, list, tuple]
Clip = Tuple[np.ndarray, VideoMetadata]  # frames (T, H, W, 3) uint8 and where they came from


class VideoError(ValueError):
    """A clip that cannot or must not be used; the message says which and why, `cause` says it in a few words."""

    def __init__(self, message: str, cause: str = 'unreadable video'):
        super().__init__(message)
        self.cause = cause


def settings(video_processor, env=None) -> dict:
    """The sampling and size knobs: SMVL_VIDEO_FPS, SMVL_VIDEO_FRAMES, SMVL_VIDEO_SIZE, else the checkpoint's."""
    env = os.environ if env is None else env  # read now: a default bound at import misses a rebound os.environ
    size = int(env.get('SMVL_VIDEO_SIZE') or video_processor.size['longest_edge'])
    return {'fps': float(env.get('SMVL_VIDEO_FPS') or video_processor.fps),
            'num_frames': int(env.get('SMVL_VIDEO_FRAMES') or video_processor.num_frames),
            'size': {'longest_edge': size}}


def checked_sampler(video_processor, fps: float, num_frames: int):
    """The processor's frame choice, after refusing what the header already shows to be unusable."""

    def sample(metadata: VideoMetadata, **kwargs) -> np.ndarray:
        if metadata.total_num_frames < 1 or not metadata.fps:
            raise VideoError('the video has no frames', 'video has no frames')
        if metadata.duration > MAX_VIDEO_SECONDS:
            raise VideoError(f'the video is {metadata.duration:.0f} s long, over the {MAX_VIDEO_SECONDS:g}-second '
                             'limit (SMVL_MAX_VIDEO_SECONDS)', 'video too long')
        if (metadata.width or 0) * (metadata.height or 0) > MAX_VIDEO_PIXELS:
            raise VideoError(f'frames are {metadata.width}x{metadata.height}, over the {MAX_VIDEO_PIXELS}-pixel limit '
                             '(SMVL_MAX_VIDEO_PIXELS)', 'video too large')
        return video_processor.sample_frames(metadata, num_frames=num_frames, fps=fps)

    return sample


def read_video_bytes(source: Union[str, bytes], max_bytes: int = None) -> bytes:
    max_bytes = max_bytes or MAX_VIDEO_BYTES
    if isinstance(source, str):  # a data URL, or bare base64 as swift passes some uploads on
        source = decode_base64(source, max_bytes, 'video', VideoError, 'SMVL_MAX_VIDEO_BYTES')
    if len(source) > max_bytes:
        raise VideoError(f'the video is {len(source)} bytes, over the {max_bytes}-byte limit (SMVL_MAX_VIDEO_BYTES)',
                         'video too large')
    return source


def decode(source, sample) -> Clip:
    """PyAV on a path or on bytes (clip_reader.read_clip), its failures as VideoError."""
    import av
    try:
        return read_clip(io.BytesIO(source) if isinstance(source, bytes) else str(source), sample)
    except VideoError:
        raise
    except IndexError:  # container.streams.video[0]
        raise VideoError('the video has no frames (no video stream in the file)', 'video has no frames') from None
    except Truncated as e:
        raise VideoError(f'truncated video: only {e.args[0]} frames could be read', 'truncated video') from None
    except (av.error.FFmpegError, ValueError, EOFError) as e:
        raise VideoError(f'not a readable video (corrupt, truncated, or not a video): {e}') from None


def frames_as_clip(frames: list, sample, fps: float) -> Clip:
    """A list of frame images, taken as frames `fps` apart, sampled as a video file would be."""
    if not frames:
        raise VideoError('the video has no frames', 'video has no frames')
    try:
        images = [open_image(frame) for frame in frames]
    except ImageError as e:
        raise VideoError(f'a frame: {e}', e.cause) from None
    if len({image.size for image in images}) > 1:
        raise VideoError(f'frames differ in size: {sorted({image.size for image in images})}', 'unreadable video')
    width, height = images[0].size
    metadata = VideoMetadata(total_num_frames=len(images), fps=fps, width=width, height=height,
                             duration=len(images) / fps, video_backend='frames')
    indices = sample(metadata)
    metadata.frames_indices = indices
    return np.stack([np.asarray(images[i]) for i in indices]), metadata


def open_clip(source: VideoSource, video_processor, fps: float, num_frames: int, fetch=None) -> Clip:
    """Frames and metadata of a clip, or VideoError naming the source and the reason.

    `fetch(url) -> bytes` reads http(s) URLs (swift's bounded fetcher in training and serving)."""
    sample = checked_sampler(video_processor, fps, num_frames)
    try:
        if isinstance(source, (list, tuple)):
            return frames_as_clip(list(source), sample, fps)
        if isinstance(source, dict):  # datasets' Video/Image-like feature
            source = source.get('bytes') or source.get('path')
        if isinstance(source, str) and source.startswith(('http://', 'https://')):
            if fetch is None:
                raise VideoError('video URLs are not fetched here')
            source = fetch(source)
        inline = isinstance(source, str) and (source.startswith('data:') or len(source) > 4096)  # or bare base64
        if isinstance(source, bytes) or inline:
            return decode(read_video_bytes(source), sample)
        path = Path(source).expanduser()
        if not path.is_file():
            raise VideoError('video file not found', 'missing video file')
        if path.stat().st_size > MAX_VIDEO_BYTES:
            raise VideoError(f'video file is {path.stat().st_size} bytes, over the {MAX_VIDEO_BYTES}-byte limit '
                             '(SMVL_MAX_VIDEO_BYTES)', 'video too large')
        return decode(path, sample)
    except VideoError as e:
        raise VideoError(f'{describe_video(source)}: {e}', e.cause) from None


def describe_video(source) -> str:
    if isinstance(source, (list, tuple)):
        return f'<{len(source)} frames{": " + describe(source[0]) + ", ..." if source else ""}>'
    if isinstance(source, str) and not source.startswith('data:') and len(source) > 4096:
        return f'<base64, {len(source)} chars>'
    return describe(source)


def process_clip(processor, clip: Clip, size: dict) -> Tuple[dict, str]:
    """(pixel_values and mask of its frames, the text that stands for it), from the checkpoint's own processor."""
    frames, metadata = clip
    inputs = processor.video_processor(videos=[frames], video_metadata=[metadata], do_sample_frames=False, size=size,
                                       return_metadata=True, return_tensors='pt')
    return inputs, clip_text(processor, inputs['video_metadata'][0], inputs['pixel_values'].shape[1])


def clip_text(processor, metadata: VideoMetadata, num_frames: int) -> str:
    """The text that stands for a clip's sampled frames: intro, then "Frame from MM:SS:" and each frame's tokens."""
    return processor.replace_video_token({'pixel_values': np.empty((1, num_frames)), 'video_metadata': [metadata]}, 0)


def media_in_text_order(kinds: List[str], image_inputs, video_inputs: List[dict]):
    """pixel_values and pixel_attention_mask of one sample, images' tiles and clips' frames in the order their tokens
    stand in the text: SmolVLM's merge fills image-token positions block by block in that order."""
    import torch
    if not video_inputs:
        return image_inputs['pixel_values'][0], image_inputs['pixel_attention_mask'][0]
    image_blocks = []
    if image_inputs is not None:
        tiles = [r * c + 1 for rows, cols in zip(image_inputs['rows'], image_inputs['cols'])
                 for r, c in zip(rows, cols)]  # tiles and the global view
        starts = np.cumsum([0] + tiles)
        image_blocks = [(image_inputs['pixel_values'][0][a:b], image_inputs['pixel_attention_mask'][0][a:b])
                        for a, b in zip(starts[:-1], starts[1:])]
    video_blocks = [(v['pixel_values'][0], v['pixel_attention_mask'][0]) for v in video_inputs]
    blocks, i, v = [], iter(image_blocks), iter(video_blocks)
    for kind in kinds:
        blocks.append(next(i) if kind == 'image' else next(v))
    return torch.cat([b[0] for b in blocks]), torch.cat([b[1] for b in blocks])
