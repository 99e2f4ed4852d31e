"""What answering sample questions during training costs: stage 1 with and without it, the same run otherwise.

  python bench/sample_cost.py [--steps-per-sample 200] [--epochs 4]

Makes the demo's tiny splice and data under runs/bench-samples if absent, then runs recipes/stage1.sh twice
(SAMPLE_STEPS=0 and SAMPLE_STEPS=N) and prints each run's train_runtime and the ratio.
"""
import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from qwen3_smvl.splice.donors import make_splice  # noqa: E402
from qwen3_smvl.datasets.synthetic import make_dataset  # noqa: E402
from recipe_run import run_recipe  # noqa: E402


def stage1(out: Path, model: Path, data: Path, epochs: int, sample_steps: int) -> dict:
    log, logs = run_recipe('stage1.sh', out, MODEL=model, DATASET=data, NUM_EPOCHS=epochs, SAMPLE_STEPS=sample_steps,
                           WORKERS=0, DATASET_NUM_PROC=1, RESUME='none', SAVE_STEPS=100000, TORCH_DTYPE='float32')
    own = re.search(r'sample answers: ([0-9.]+)s of ([0-9.]+)s of training', log)  # the callback's own clock
    samples = out / 'samples.jsonl'
    end = next(line for line in logs if 'train_runtime' in line)
    return {'train_runtime': float(end['train_runtime']), 'steps': int(end['global_step/max_steps'].split('/')[0]),
            'answers': len(samples.read_text().splitlines()) if samples.exists() else 0,
            'sampling_s': float(own.group(1)) if own else 0.}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--steps-per-sample', type=int, default=200, help="the recipes' default SAMPLE_STEPS")
    ap.add_argument('--epochs', type=int, default=4, help="the demo's stage-1 epochs")
    ap.add_argument('--work', type=Path, default=REPO / 'runs' / 'bench-samples')
    args = ap.parse_args()
    work = args.work.resolve()
    model = make_splice('tiny', work)
    if not (work / 'data' / 'train.jsonl').exists():
        make_dataset(work / 'data')
    runs = {name: stage1(work / name, model, work / 'data' / 'train.jsonl', args.epochs, steps)
            for name, steps in (('without', 0), ('with', args.steps_per_sample))}
    print(f'\n{"run":<10}{"steps":>8}{"answers":>10}{"train_runtime s":>18}{"in sampling s":>16}')
    for name, r in runs.items():
        print(f'{name:<10}{r["steps"]:>8}{r["answers"]:>10}{r["train_runtime"]:>18.2f}{r["sampling_s"]:>16.2f}')
    ratio = runs['with']['train_runtime'] / runs['without']['train_runtime']
    share = runs['with']['sampling_s'] / runs['without']['train_runtime']
    print(f'with / without: {ratio:.3f} ({100 * (ratio - 1):+.1f}% for sampling every {args.steps_per_sample} steps); '
          f'inside the callback: {share:.1%} of the run without it')


if __name__ == '__main__':
    main()
