"""What answering sample questions during training costs: stage 1 with and without it, the same run otherwise.

  python bench/sample_cost.py [--steps-per-sample 200] [--epochs 4]

Makes the demo's tiny splice and data under runs/bench-samples if absent, then runs recipes/stage1.sh twice
(SAMPLE_STEPS=0 and SAMPLE_STEPS=N) and prints each run's train_runtime and the ratio.
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def stage1(out: Path, model: Path, data: Path, epochs: int, sample_steps: int) -> dict:
    env = {**os.environ, 'MODEL': str(model), 'DATASET': str(data), 'OUTPUT_DIR': str(out), 'NUM_EPOCHS': str(epochs),
           'SAMPLE_STEPS': str(sample_steps), 'WORKERS': '0', 'DATASET_NUM_PROC': '1', 'RESUME': 'none',
           'SAVE_STEPS': '100000', 'TORCH_DTYPE': 'float32', 'PATH': f'{Path(sys.executable).parent}:{os.environ["PATH"]}'}
    subprocess.run(['rm', '-rf', str(out)], check=True)
    subprocess.run(['bash', 'recipes/stage1.sh'], cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    logs = [json.loads(line) for line in (out / 'logging.jsonl').read_text().splitlines()]
    samples = out / 'samples.jsonl'
    return {'train_runtime': float(logs[-1]['train_runtime']), 'steps': int(logs[-1]['global_step/max_steps'].split('/')[0]),
            'answers': len(samples.read_text().splitlines()) if samples.exists() else 0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--steps-per-sample', type=int, default=200, help="the recipes' default SAMPLE_STEPS")
    ap.add_argument('--epochs', type=int, default=4, help="the demo's stage-1 epochs")
    ap.add_argument('--work', type=Path, default=REPO / 'runs' / 'bench-samples')
    args = ap.parse_args()
    work = args.work.resolve()
    if not (work / 'spliced').exists():
        subprocess.run([sys.executable, 'tools/make_donors.py', '--preset', 'tiny', '--out', work / 'donors'], cwd=REPO,
                       check=True)
        subprocess.run([sys.executable, 'tools/build_model.py', '--vision', work / 'donors' / 'vision', '--llm',
                        work / 'donors' / 'llm', '--out', work / 'spliced', '--overwrite'], cwd=REPO, check=True)
        subprocess.run([sys.executable, 'tools/make_dataset.py', '--out', work / 'data'], cwd=REPO, check=True)
    runs = {name: stage1(work / name, work / 'spliced', work / 'data' / 'train.jsonl', args.epochs, steps)
            for name, steps in (('without', 0), ('with', args.steps_per_sample))}
    print(f'\n{"run":<10}{"steps":>8}{"answers":>10}{"train_runtime s":>18}')
    for name, r in runs.items():
        print(f'{name:<10}{r["steps"]:>8}{r["answers"]:>10}{r["train_runtime"]:>18.2f}')
    ratio = runs['with']['train_runtime'] / runs['without']['train_runtime']
    print(f'with / without: {ratio:.3f} ({100 * (ratio - 1):+.1f}% for sampling every {args.steps_per_sample} steps)')


if __name__ == '__main__':
    main()
