"""A clip's sampled frames by PyAV, as the container really holds them: any container, frame rate and orientation.

transformers' PyAV reader takes the frame count and rate from the header (WebM and Matroska declare no count, so it
finds no frames), picks frames by index (wrong times under a variable frame rate), decodes every frame up to the last
one it needs (a long clip costs its length) and ignores the display matrix (phone clips come out sideways). Here:
1. every frame's time comes from the container's index, or from demuxing the packets where the index lists key
   frames only (WebM, Matroska): no decoding;
2. the checkpoint's processor picks indices on that clip's metadata, exactly as it would on a complete header, and
   each index is mapped to the frame nearest its time (the same frame for a constant rate; by time when it varies);
3. the chosen frames are decoded straight through or by seeking to the key frame before each, whichever decodes
   fewer frames, then turned upright by the display matrix as FFmpeg's own player does (fftools' autorotate).
"""
import contextlib
import itertools
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
from transformers.video_utils import VideoMetadata

SEEK_COST = 8  # frames' worth of work a seek costs (flushing the decoder, re-reading from the key frame's packet)


@dataclass
class ClipMetadata(VideoMetadata):
    """transformers' metadata with each sampled frame's real time, which SmolVLM writes as 'Frame from MM:SS'."""
    frame_times: Optional[List[float]] = None

    @property
    def timestamps(self) -> List[float]:
        return list(self.frame_times) if self.frame_times is not None else super().timestamps


class Truncated(Exception):
    """Fewer frames decoded than the packets promised."""


def frame_table(container, stream) -> Tuple[np.ndarray, np.ndarray]:
    """(timestamp of every frame in presentation order, whether each is a key frame), without decoding: the
    container's index when it lists every frame (mp4, mov: decode timestamps, shifted to the first frame's
    presentation time), else the packets' presentation timestamps (WebM and Matroska index key frames only)."""
    entries = stream.index_entries
    if stream.frames and len(entries) == stream.frames:
        if container.size > 0 and entries[-1].pos + entries[-1].size > container.size:  # cut short: frames missing
            entries = [e for e in entries if e.pos + e.size <= container.size]
        stamps = np.fromiter((e.timestamp for e in entries), dtype=np.int64, count=len(entries))
        keys = np.fromiter((e.is_keyframe for e in entries), dtype=bool, count=len(entries))
    else:
        packets = [(p.pts, p.is_keyframe) for p in container.demux(stream) if p.pts is not None and p.size]
        stamps = np.asarray([p[0] for p in packets], dtype=np.int64)
        keys = np.asarray([p[1] for p in packets], dtype=bool)
    stamps = np.sort(stamps, kind='stable')
    if len(stamps) and stream.start_time is not None:  # decode times shifted to presentation times (B-frame delay)
        stamps += stream.start_time - stamps[0]
    # a key frame starts a closed group: its rank among frames shown is its rank among frames decoded
    return stamps, keys


def frame_rate(times: np.ndarray, header_rate: float) -> float:
    """The header's rate when the frames keep to it (then indices and times agree as transformers assumes), else
    the clip's average: frames over their span (variable rate, or a container that declares none)."""
    n = len(times)
    if header_rate and np.abs(times - np.arange(n) / header_rate).max() < 0.5 / header_rate:
        return header_rate
    step = float(np.median(np.diff(times))) if n > 1 else 0.0
    span = float(times[-1] - times[0]) + step
    return n / span if span > 0 else (header_rate or 1.0)


def nearest_frames(times: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Index of the frame nearest each target time (times sorted)."""
    if len(times) == 1:
        return np.zeros(len(targets), dtype=int)
    right = np.clip(np.searchsorted(times, targets), 1, len(times) - 1)
    left = right - 1
    return np.where(np.abs(times[left] - targets) <= np.abs(times[right] - targets), left, right)


def seek_plan_cost(chosen: np.ndarray, key_before: np.ndarray) -> int:
    """Frames decoded when seeking to the key frame before each chosen frame (unless decoding on reaches it)."""
    cost, position = 0, -1
    for i in chosen:
        start = key_before[i]
        cost += (i - start + 1 + SEEK_COST) if start > position else (i - position)
        position = i
    return cost


def decode_in_order(container, stream, chosen: np.ndarray) -> list:
    """The chosen frames (presentation indices), decoding from the start; transformers' reader does the same."""
    wanted, frames = set(chosen.tolist()), []
    container.seek(0)
    for i, frame in enumerate(container.decode(stream)):
        if i in wanted:
            frames.append(frame)
        if i >= chosen[-1]:
            break
    if len(frames) < len(chosen):
        raise Truncated(len(frames))
    return frames


def decode_by_seeking(container, stream, stamps: np.ndarray, key_before: np.ndarray, chosen: np.ndarray) -> list:
    """The chosen frames (presentation ranks), each found by seeking to the key frame before it and counting the
    frames decoded from there (the decoder hands them over in presentation order)."""
    frames, position, decoded = [], -1, None
    for i in chosen:
        if key_before[i] > position:
            container.seek(int(stamps[key_before[i]]), stream=stream, backward=True, any_frame=False)
            decoded, position = container.decode(stream), key_before[i] - 1
            first = next(decoded, None)
            if first is None or first.pts != stamps[key_before[i]]:
                raise LookupError('the seek did not land on the key frame')
            decoded = itertools.chain([first], decoded)
        for frame in decoded:
            position += 1
            if position == i:
                frames.append(frame)
                break
        else:
            raise Truncated(len(frames))
    return frames


def display_matrix(frame) -> Optional[np.ndarray]:
    """The frame's display matrix (9 int32s, 16.16 and 2.30 fixed point), if it has one."""
    import av
    side = frame.side_data.get(av.sidedata.sidedata.Type.DISPLAYMATRIX)
    return None if side is None else np.frombuffer(bytes(side), dtype='<i4')


def upright(image: np.ndarray, matrix: Optional[np.ndarray]) -> np.ndarray:
    """IMAGE (H, W, 3) as FFmpeg shows it: fftools' autorotate table (rotation by quarter turns, and its flips)."""
    if matrix is None:
        return image
    a, b, c, d = (float(v) / 65536 for v in (matrix[0], matrix[1], matrix[3], matrix[4]))
    rotation = -np.degrees(np.arctan2(b / np.hypot(b, d), a / np.hypot(a, c)))  # av_display_rotation_get
    theta = -round(rotation)
    theta -= 360 * np.floor(theta / 360 + 0.9 / 360)  # fftools' get_rotation: 0 <= theta < 360
    if abs(theta - 90) < 1:  # transpose=cclock_flip or clock
        return image.transpose(1, 0, 2) if matrix[3] > 0 else np.rot90(image, k=-1)
    if abs(theta - 180) < 1:
        image = image[:, ::-1] if matrix[0] < 0 else image  # hflip
        return image[::-1] if matrix[4] < 0 else image  # vflip
    if abs(theta - 270) < 1:  # transpose=clock_flip or cclock
        return np.rot90(image, k=-1)[::-1] if matrix[3] < 0 else np.rot90(image, k=1)
    if abs(theta) < 1 and matrix[4] < 0:
        return image[::-1]
    return image  # other angles: FFmpeg rotates by a filter; a camera writes quarter turns


def read_clip(file, sample) -> Tuple[np.ndarray, ClipMetadata]:
    """Frames (T, H, W, 3) uint8, upright, and their metadata; SAMPLE(metadata) -> indices is the processor's choice.
    Raises IndexError (no video stream), Truncated, or PyAV's errors; video.py names them."""
    import av
    with av.open(file) as container:
        stream = container.streams.video[0]
        stamps, keys = frame_table(container, stream)
        if stream.frames and len(stamps) < stream.frames:
            raise Truncated(len(stamps))
        n = len(stamps)
        times = (stamps - (stamps[0] if n else 0)) * float(stream.time_base)
        fps = frame_rate(times, float(stream.average_rate or 0)) if n else 0.0
        metadata = ClipMetadata(total_num_frames=n, fps=fps, duration=n / fps if fps else 0.0, width=stream.width,
                                height=stream.height, video_backend='pyav')
        indices = np.asarray(sample(metadata))
        chosen = np.unique(nearest_frames(times, indices / fps))
        key_before = np.maximum.accumulate(np.where(keys, np.arange(n), 0))
        frames = None
        if seek_plan_cost(chosen, key_before) < chosen[-1] + 1:
            with contextlib.suppress(LookupError):  # the stream's timestamps do not allow it: decode straight through
                frames = decode_by_seeking(container, stream, stamps, key_before, chosen)
        if frames is None:
            frames = decode_in_order(container, stream, chosen)
        images = np.stack([upright(frame.to_ndarray(format='rgb24'), display_matrix(frame)) for frame in frames])
    metadata.frames_indices = chosen
    start = stamps[0] if n else 0
    metadata.frame_times = [float((frame.pts - start) * stream.time_base) if frame.pts is not None else float(t)
                            for frame, t in zip(frames, times[chosen])]  # as shown, where the index has decode times
    if images.shape[1:3] != (stream.height, stream.width):  # a quarter turn: the model sees the clip as displayed
        metadata.width, metadata.height = images.shape[2], images.shape[1]
    return np.ascontiguousarray(images), metadata
