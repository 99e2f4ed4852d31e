"""Serving throughput at the real dimensions (random SigLIP-base + Qwen3-0.6B splice): vLLM vs transformers.

For each backend: recipes/deploy.sh on 127.0.0.1, then `evalscope perf` with image requests (random 512x512
images, fixed prompt and output lengths); prints throughput and latency side by side and the ratio vLLM/transformers.

  python bench/serve.py [--model DIR] [--number 8] [--parallel 2]
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from qwen3_smvl.splice.donors import make_splice  # noqa: E402
from qwen3_smvl.serve.deploy import served  # noqa: E402

KEYS = {'Req Throughput (req/s)': 'req/s', 'Output Throughput (tok/s)': 'out tok/s', 'Avg Latency (s)': 'latency s',
        'Avg TTFT (ms)': 'TTFT ms', 'Failed Requests': 'failed'}


def perf(base: str, model_dir: Path, out: Path, number: int, parallel: int) -> dict:
    subprocess.run([Path(sys.executable).parent / 'evalscope', 'perf', '--url', f'{base}/chat/completions',
                    '--api', 'openai', '--model', 'qwen3-smvl', '--dataset', 'random_vl', '--image-width', '512',
                    '--image-height', '512', '--image-num', '1', '--tokenizer-path', str(model_dir),
                    '--min-prompt-length', '32', '--max-prompt-length', '32', '--min-tokens', '16',
                    '--max-tokens', '16', '--number', str(number), '--parallel', str(parallel), '--outputs-dir',
                    str(out), '--no-test-connection'], check=True, cwd=REPO, capture_output=True, text=True)
    summary = next(out.rglob('benchmark_summary.json'))
    data = json.loads(summary.read_text())
    return {short: float(data[long]) for long, short in KEYS.items() if long in data}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', type=Path, help='a spliced checkpoint (default: real-dimension random donors, spliced)')
    ap.add_argument('--number', type=int, default=8)
    ap.add_argument('--parallel', type=int, default=2)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix='bench_serve_'))
    model = args.model or make_splice('real', work)
    results = {}
    runs = {'transformers': {'BACKEND': 'transformers'}, 'vllm': {'BACKEND': 'vllm'},
            'vllm (transformers impl)': {'BACKEND': 'vllm', 'VLLM_MODEL_IMPL': 'transformers'}}
    for name, env in runs.items():
        print(f'{name} ...', flush=True)
        try:
            slug = name.replace(' ', '_').replace('(', '').replace(')', '')
            with served(model, work / f'{slug}.log', TORCH_DTYPE='float32', MAX_MODEL_LEN=4096, **env) as base:
                results[name] = perf(base, model, work / slug, args.number, args.parallel)
        except (RuntimeError, TimeoutError, subprocess.CalledProcessError) as e:
            print(f'  {name} did not serve: {e}\n  {getattr(e, "stderr", "")[-1500:]}')
    columns = list(KEYS.values())
    print(f'\n{"backend":<26}' + ''.join(f'{c:>12}' for c in columns))
    for backend, r in results.items():
        print(f'{backend:<26}' + ''.join(f'{r.get(c, float("nan")):>12.3f}' for c in columns))
    for name in results:
        if name != 'transformers':
            print(f'{name} / transformers request throughput: '
                  f'{results[name]["req/s"] / results["transformers"]["req/s"]:.2f}x')


if __name__ == '__main__':
    main()
