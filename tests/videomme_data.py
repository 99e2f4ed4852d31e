"""A tiny Video-MME-v2 folder in its hub layout (MME-Benchmarks/Video-MME-v2), as EvalScope 1.14's videomme_v2
adapter reads it with `video_source: archive`:

  test.parquet        one row per question: video_id, url, question_id, question, options (lettered lines), answer
                      (a letter), level, group_type, group_structure, second_head, third_head
  videos/001.zip      the clips as NNN.mp4 members, twenty a zip (001.mp4 to 020.mp4 in 001.zip)

built from the synthetic Chinese clips (qwen3_smvl/datasets/synthetic_video.py), one of them long.
"""
import random
import zipfile
from pathlib import Path

from qwen3_smvl.datasets.synthetic_video import DIRECTIONS, moving_circle, write_mp4

LONG_FPS = 1  # the long clip: one frame a second keeps a half-hour clip small and quick to write


def make_videomme(root: Path, n: int = 2, long_minutes: int = 30, size: int = 32) -> Path:
    """N questions on N clips (moving-circle direction); the last clip lasts LONG_MINUTES, its pictures stretched."""
    import datasets
    from evalscope.benchmarks.videomme_v2.utils import archive_name
    (root / 'videos').mkdir(parents=True, exist_ok=True)
    rng, rows = random.Random(0), []
    choices = list(DIRECTIONS)
    for k in range(n):
        video_id = f'{k + 1:03d}'
        pictures, question, answer = moving_circle(size, rng)
        seconds_each = long_minutes * 60 // len(pictures) if k == n - 1 else 2
        clip = write_mp4(root / f'{video_id}.mp4', [p for p in pictures for _ in range(seconds_each * LONG_FPS)],
                         fps=LONG_FPS)
        with zipfile.ZipFile(root / 'videos' / archive_name(video_id), 'a') as archive:
            archive.write(clip, f'videos/{video_id}.mp4')
        clip.unlink()
        rows.append({'video_id': video_id, 'url': f'https://www.youtube.com/watch?v=local{k}', 'question_id': f'{k}',
                     'question': question, 'options': '\n'.join(f'{"ABCD"[i]}. {c}' for i, c in enumerate(choices)),
                     'answer': 'ABCD'[choices.index(answer)], 'level': 2, 'group_type': 'relevance',
                     'group_structure': 'single', 'second_head': 'temporal', 'third_head': 'direction'})
    datasets.Dataset.from_list(rows).to_parquet(str(root / 'test.parquet'))
    return root
