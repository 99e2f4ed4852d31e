"""Decode seconds of a 1-, 10- and 60-minute clip: the clip reader (qwen3_smvl/clip_reader.py: frame times from the
packets, seeking) against transformers' PyAV reader (what video.py called before: decodes every frame up to the last
sampled one), in one run, with SmolVLM2-256M-Video-Instruct's sampling (1 frame a second, at most 64).

  python bench/video_decode.py [--minutes 1,10,60] [--work runs/bench-decode]

Clips: H.264 in mp4 at 30 fps, 64x48 frames, libx264's default key-frame interval (250), written once under --work.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from qwen3_smvl import video  # noqa: E402

FPS = 30


def write_clip(path: Path, minutes: int) -> Path:
    """A clip whose frames change every frame (a moving bar), written atomically."""
    import av
    if path.exists():
        return path
    tmp = path.with_suffix('.part.mp4')
    with av.open(str(tmp), 'w') as container:
        stream = container.add_stream('libx264', rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 48, 'yuv420p'
        for i in range(minutes * 60 * FPS):
            image = np.full((48, 64, 3), 40, np.uint8)
            image[:, i % 64] = 220
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format='rgb24')))
            if i % (FPS * 600) == 0:
                print(f'  writing {path.name}: {i // (FPS * 60)} of {minutes} min', flush=True)
        container.mux(stream.encode())
    tmp.rename(path)
    return path


def video_processor():
    """SmolVLM2-256M-Video-Instruct's video processor with its published sampling (the donor config as data)."""
    from transformers.models.smolvlm.video_processing_smolvlm import SmolVLMVideoProcessor
    donor = json.loads((REPO / 'qwen3_smvl' / 'data' / 'smolvlm2_256m_video_instruct.json').read_text())
    sampling = donor['preprocessor_config']['video_sampling']
    return SmolVLMVideoProcessor(fps=sampling['fps'], num_frames=sampling['max_frames'])


def timed(fn):
    start = time.perf_counter()
    frames = fn()
    return time.perf_counter() - start, frames


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--minutes', default='1,10,60', type=lambda s: [int(m) for m in s.split(',')])
    ap.add_argument('--work', type=Path, default=REPO / 'runs' / 'bench-decode')
    args = ap.parse_args(argv)
    from transformers.video_utils import load_video
    args.work.mkdir(parents=True, exist_ok=True)
    processor = video_processor()
    video.MAX_VIDEO_SECONDS = max(video.MAX_VIDEO_SECONDS, 60 * max(args.minutes))

    def sample(metadata, **kwargs):
        return processor.sample_frames(metadata, num_frames=processor.num_frames, fps=processor.fps)

    print('| clip | frames sampled | transformers\' reader (s) | clip reader (s) | ratio | same frames |')
    print('|---|---|---|---|---|---|')
    for minutes in args.minutes:
        path = write_clip(args.work / f'clip-{minutes}min.mp4', minutes)
        before, (old, _) = timed(lambda: load_video(str(path), backend='pyav', sample_indices_fn=sample))
        after, (new, _) = timed(lambda: video.open_clip(path, processor, fps=processor.fps,
                                                        num_frames=processor.num_frames))
        print(f'| {minutes} min, {path.stat().st_size // 1024} KiB | {len(new)} | {before:.2f} | {after:.2f} | '
              f'{after / before:.3f} | {np.array_equal(old, new)} |', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
