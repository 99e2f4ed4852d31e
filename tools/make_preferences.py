"""Stage-3 rows from a stage-2 model's own wrong answers on a labelled set (rows with `solution`, as
tools/make_dataset.py writes them). DPO: chosen = the row's answer, rejected = the model's. GRPO (`--rlhf-type grpo`):
the missed rows as they are; on the questions it already answers right its rollouts mostly all score 1, and a group
that scores alike has no advantage to learn from.

  python tools/make_preferences.py --model runs/stage2-merged --data runs/demo/data/grounding_train.jsonl \
      [--data more.jsonl] --out runs/rl/prefs.jsonl [--max-new-tokens 64] [--rlhf-type grpo]

Then: MODEL=runs/stage2-merged DATASET=runs/rl/prefs.jsonl RLHF_TYPE=dpo bash recipes/stage3.sh (or grpo)
"""
import argparse
import json
import sys
from pathlib import Path

from qwen3_smvl.rl.preferences import preference_rows, write_rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', required=True, type=Path)
    ap.add_argument('--data', required=True, type=Path, action='append', help='a swift jsonl with `solution`')
    ap.add_argument('--out', required=True, type=Path)
    ap.add_argument('--max-new-tokens', type=int, default=64)
    ap.add_argument('--rlhf-type', choices=['dpo', 'grpo'], default='dpo',
                    help='dpo: preference pairs; grpo: the rows answered wrong, unchanged')
    args = ap.parse_args(argv)
    rows = [json.loads(line) for path in args.data for line in path.read_text().splitlines() if line.strip()]
    result = preference_rows(args.model, rows, args.max_new_tokens)
    written = result['rows'] if args.rlhf_type == 'dpo' else result['misses']
    print(f'{result["right"]} right, {result["wrong"]} wrong ({len(written)} written as {args.rlhf_type} rows, '
          f'{result["wrong"] - len(written)} empty answers not), {result["skipped"]} without a solution (skipped)')
    if not written:
        why = 'every wrong answer was empty' if result['wrong'] else 'the model answered every labelled row right'
        print(f'error: {why}: no {args.rlhf_type} rows to write', file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_rows(written, args.out)
    print(f'{args.rlhf_type} rows: {args.out} ({len(written)} rows)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
