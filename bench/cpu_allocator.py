"""What the recipes' CPU_ALLOCATOR=keep buys on the CPU: stage 2 of the demo's model with glibc's own allocator
settings and with the recipe's, the same run otherwise.

  python bench/cpu_allocator.py [--steps 150]

Makes the demo's tiny-vocab splice and data under runs/bench-allocator if absent, then runs recipes/stage2.sh twice
(CPU_ALLOCATOR=glibc, CPU_ALLOCATOR=keep) and prints each run's train_runtime, the system time of its process tree,
its logged losses (they must be the same: only where freed memory goes changes) and the ratio.
"""
import argparse
import resource
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from qwen3_smvl.splice.donors import make_splice  # noqa: E402
from qwen3_smvl.datasets.synthetic import make_dataset  # noqa: E402
from recipe_run import run_recipe  # noqa: E402


def stage2(out: Path, model: Path, datasets: str, steps: int, allocator: str) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime
    _, logs = run_recipe('stage2.sh', out, MODEL=model, DATASET=datasets, MAX_STEPS=steps, TUNER='full', LR='1e-3',
                         VIT_LAST_N=2, FROM_SPLICE='true', CPU_ALLOCATOR=allocator, SAMPLE_STEPS=0, WORKERS=0,
                         DATASET_NUM_PROC=1, RESUME='none', SAVE_STEPS=100000, LOGGING_STEPS=10, TORCH_DTYPE='float32')
    end = next(line for line in logs if 'train_runtime' in line)
    return {'train_runtime': float(end['train_runtime']),
            'system_s': resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime - before,
            'losses': [line['loss'] for line in logs if 'loss' in line]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--steps', type=int, default=150)
    ap.add_argument('--work', type=Path, default=REPO / 'runs' / 'bench-allocator')
    args = ap.parse_args()
    work = args.work.resolve()
    model = make_splice('tiny-vocab', work)
    if not (work / 'data' / 'grounding_train.jsonl').exists():
        make_dataset(work / 'data', grounding=200, grounding_test=0)
    datasets = f'{work / "data" / "train.jsonl"} {work / "data" / "grounding_train.jsonl"}'
    runs = {name: stage2(work / name, model, datasets, args.steps, name) for name in ('glibc', 'keep')}
    print(f'\n{"CPU_ALLOCATOR":<15}{"steps":>7}{"train_runtime s":>18}{"system s":>10}  last losses')
    for name, r in runs.items():
        print(f'{name:<15}{args.steps:>7}{r["train_runtime"]:>18.2f}{r["system_s"]:>10.1f}  {r["losses"][-3:]}')
    same = runs['glibc']['losses'] == runs['keep']['losses']
    print(f'glibc / keep: {runs["glibc"]["train_runtime"] / runs["keep"]["train_runtime"]:.2f}x the time; '
          f'losses {"identical" if same else "DIFFERENT"}')
    sys.exit(0 if same else 1)


if __name__ == '__main__':
    main()
