"""Benchmark a served model (recipes/deploy.sh, or any OpenAI-compatible endpoint) with EvalScope.

  python eval/mmmu.py --api-url http://127.0.0.1:8000/v1 --model qwen3-smvl \
      [--datasets mmmu,cmmmu,mm_bench,cc_bench] [--local-path DIR] [--limit N] [--work-dir DIR]

MMMU by default; the Chinese benchmarks EvalScope has natively: cmmmu, mm_bench (its Chinese subset `cn` unless
--subsets says otherwise) and cc_bench; and video: mvbench and videomme_v2 (Video-MME-v2, clips up to an hour;
the served model must take video_url parts, which the transformers backend does). --local-path DIR reads
DIR/<dataset>/ in EvalScope's local (Hugging Face) layout instead of downloading. Writes EvalScope's report folder under --work-dir and prints a summary table (per
subset and overall), also saved as summary.md beside the reports.
"""
import argparse
import json
import sys
from pathlib import Path

DEFAULT_SUBSETS = {'mm_bench': ['cn']}  # MMBench's Chinese half
# A local copy's clips are its archives (videos/NNN.zip), not the YouTube links Video-MME-v2 reads by default.
LOCAL_OPTIONS = {'videomme_v2': {'extra_params': {'video_source': 'archive'}}}


def benchmark_subsets(name: str) -> list:
    """The benchmark's own subset names, as EvalScope registers them."""
    import evalscope.benchmarks  # noqa: F401  (installs the registry's lazy adapters)
    from evalscope.api.registry import BENCHMARK_REGISTRY
    return list(BENCHMARK_REGISTRY[name].subset_list)


def task_config(args):
    from evalscope import TaskConfig
    dataset_args = {}
    for name in args.datasets:
        options = {}
        subsets = args.subsets or DEFAULT_SUBSETS.get(name)
        if args.local_path:
            from datasets import get_dataset_config_names
            options.update(LOCAL_OPTIONS.get(name, {}))
            options['local_path'] = str(Path(args.local_path) / name)
            configs = get_dataset_config_names(options['local_path'])
            if not subsets:
                # A local copy may hold fewer of the benchmark's subsets as configs (MMMU); one that holds them all
                # in one `default` config (CMMMU: a subject column) gets the benchmark's own list. MVBench registers
                # one default subset of its 20: a copy holding others is read whole.
                own = benchmark_subsets(name)
                subsets = [c for c in configs if c in own] or [c for c in configs if c != 'default'] or None
            elif configs != ['default'] and not set(subsets) <= set(configs):
                raise SystemExit(f'error: {name}: subsets {sorted(set(subsets) - set(configs))} are not in '
                                 f'{options["local_path"]} (it holds {configs})')
        if subsets:
            options['subset_list'] = subsets
        dataset_args[name] = options
    return TaskConfig(model=args.model, api_url=args.api_url, api_key=args.api_key, eval_type='openai_api',
                      datasets=args.datasets, dataset_args=dataset_args, limit=args.limit, work_dir=str(args.work_dir),
                      eval_batch_size=args.concurrency, generation_config={'temperature': 0, 'max_tokens': args.max_tokens},
                      no_timestamp=True)


def scored(report: Path) -> int:
    """How many samples an EvalScope report scored (0 when it wrote none)."""
    if not report.is_file():
        return 0
    return max((metric['num'] for metric in json.loads(report.read_text())['metrics']), default=0)


def summary(work_dir: Path, model: str) -> str:
    """One screen: every subset's score and size, then each dataset's overall score."""
    lines = ['| dataset | subset | n | score |', '|---|---|---|---|']
    for report in sorted((work_dir / 'reports' / model).glob('*.json')):
        data = json.loads(report.read_text())
        for metric in data['metrics']:
            for category in metric['categories']:
                for subset in category['subsets']:
                    lines.append(f'| {data["dataset_name"]} | {subset["name"]} | {subset["num"]} | '
                                 f'{subset["score"]:.4f} |')
            name = metric.get('name') or metric['identity']['name']  # report schema 1 or 2
            lines.append(f'| {data["dataset_name"]} | **overall** ({name}) | {metric["num"]} | '
                         f'**{metric["score"]:.4f}** |')
    return '\n'.join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--api-url', required=True, help='e.g. http://127.0.0.1:8000/v1')
    ap.add_argument('--model', required=True, help='the served model name')
    ap.add_argument('--api-key', default='EMPTY')
    ap.add_argument('--datasets', default='mmmu', type=lambda s: [d for d in s.split(',') if d])
    ap.add_argument('--subsets', type=lambda s: s.split(','), help='subset names, for every dataset given')
    ap.add_argument('--local-path', type=Path, help='DIR holding DIR/<dataset>/ in EvalScope local layout')
    ap.add_argument('--limit', type=int, help='samples per subset')
    ap.add_argument('--work-dir', type=Path, default=Path('runs/eval'))
    ap.add_argument('--concurrency', type=int, default=4)
    ap.add_argument('--max-tokens', type=int, default=512)
    args = ap.parse_args(argv)
    from evalscope import run_task
    reports = args.work_dir / 'reports' / args.model
    for name in args.datasets:  # a stale report must not pass for this run's
        (reports / f'{name}.json').unlink(missing_ok=True)
    config = task_config(args)
    run_task(config)
    unscored = [name for name in args.datasets if not scored(reports / f'{name}.json')]
    if unscored:
        where = {name: config.dataset_args[name].get('subset_list', 'all') for name in unscored}
        print(f'error: no sample of {", ".join(unscored)} was scored (subsets: {where}); check --subsets against '
              f'the benchmark\'s subset names and --local-path DIR/<dataset> (docs/evaluation.md)', file=sys.stderr)
        return 1
    table = summary(args.work_dir, args.model)
    (args.work_dir / 'summary.md').write_text(table + '\n')
    print(table)
    print(f'\nreports: {args.work_dir / "reports" / args.model}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
