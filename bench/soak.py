"""Soak the served model on both backends: 300 requests at concurrency 16, a quarter of them bad.

  python bench/soak.py [--model DIR] [--requests 300] [--concurrency 16]

For each backend, recipes/deploy.sh on 127.0.0.1 (default model: the tiny splice, made if absent), then
qwen3_smvl.serve.soak: prints good requests answered, bad ones refused with a 4xx, any 5xx, the time taken, and the
server's resident memory after a warm-up and after the run (the ratio should stay under 1.10).
"""
import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from qwen3_smvl.splice.donors import make_splice  # noqa: E402
from qwen3_smvl.serve.deploy import SERVER_PIDS, served  # noqa: E402
from qwen3_smvl.serve.soak import soak  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', type=Path, help='a checkpoint to serve (default: the tiny splice)')
    ap.add_argument('--requests', type=int, default=300)
    ap.add_argument('--concurrency', type=int, default=16)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix='bench_soak_'))
    model = args.model or make_splice('tiny', work)
    rows = {}
    for backend in ('transformers', 'vllm'):
        print(f'{backend} ...', flush=True)
        with served(model, work / f'{backend}.log', BACKEND=backend, MAX_IMAGES=2) as base:
            rows[backend] = soak(base, SERVER_PIDS[base], n=args.requests, concurrency=args.concurrency, max_images=2)
    keys = ['good_answered', 'good', 'bad_4xx', 'bad', 'status_5xx', 'seconds', 'rss_after_warmup_mib',
            'rss_after_mib', 'rss_ratio']
    print(f'\n{"backend":<14}' + ''.join(f'{k:>22}' for k in keys))
    for backend, r in rows.items():
        print(f'{backend:<14}' + ''.join(f'{r[k]:>22.3f}' if isinstance(r[k], float) else f'{r[k]:>22}' for k in keys))


if __name__ == '__main__':
    main()
