"""A tiny MVBench folder in EvalScope 1.14's local layout (what its mvbench adapter reads from PKU-Alignment/MVBench):

  README.md                  `configs:` one per subset, data_files json/<subset>.json (split train)
  json/<subset>.json         [{"video": NAME, "question": ..., "candidates": [...], "answer": one of them}, ...]
  video/<archive>.zip        the clips, as <subset>/<NAME> members (archive per subset: the adapter's SUBSET_SPECS)

built from the synthetic Chinese video clips (qwen3_smvl/datasets/synthetic_video.py).
"""
import json
import random
import uuid
import zipfile
from pathlib import Path

from eval_data import write_configs
from qwen3_smvl.datasets.synthetic_video import DIRECTIONS, FPS, moving_circle, shape_count, write_mp4
from qwen3_smvl.datasets.synthetic import COUNTS

# our tasks as the MVBench subsets that ask the same thing
TASKS = {'moving_direction': (moving_circle, list(DIRECTIONS)),
         'moving_count': (shape_count, [c + '个' for c in COUNTS])}


def make_mvbench(root: Path, n: int = 2, size: int = 32) -> Path:
    from evalscope.benchmarks.mvbench.mvbench_adapter import SUBSET_SPECS
    root.mkdir(parents=True, exist_ok=True)
    (root / 'json').mkdir(exist_ok=True)
    (root / 'video').mkdir(exist_ok=True)
    rng, tag = random.Random(0), uuid.uuid4().hex[:8]  # EvalScope caches clips by name: names unique to this copy
    for subset, (task, candidates) in TASKS.items():
        records = []
        with zipfile.ZipFile(root / 'video' / SUBSET_SPECS[subset].archive, 'a') as archive:
            for k in range(n):
                pictures, question, answer = task(size, rng)
                name = f'{tag}_{k}.mp4'
                clip = write_mp4(root / name, [p for p in pictures for _ in range(FPS)])
                archive.write(clip, f'{subset}/{name}')
                clip.unlink()
                records.append({'video': name, 'question': question, 'candidates': candidates, 'answer': answer})
        (root / 'json' / f'{subset}.json').write_text(json.dumps(records, ensure_ascii=False))
    write_configs(root, [(subset, 'train', f'json/{subset}.json') for subset in TASKS])
    return root
