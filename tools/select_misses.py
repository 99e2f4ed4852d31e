"""GRPO rows narrowed to the labelled questions a model answers wrong (greedy, as served): on the questions it already
answers right its rollouts mostly all score 1, and a group that scores alike has no advantage to learn from.

  python tools/select_misses.py --model runs/stage2-merged --data runs/rl/train.jsonl --out runs/rl/misses.jsonl

Then: MODEL=runs/stage2-merged DATASET=runs/rl/misses.jsonl RLHF_TYPE=grpo bash recipes/stage3.sh
"""
import argparse
import json
import sys
from pathlib import Path

from qwen3_smvl.rl.preferences import misses, write_rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', required=True, type=Path)
    ap.add_argument('--data', required=True, type=Path, action='append', help='a swift jsonl with `solution`')
    ap.add_argument('--out', required=True, type=Path)
    ap.add_argument('--max-new-tokens', type=int, default=64)
    args = ap.parse_args(argv)
    rows = [json.loads(line) for path in args.data for line in path.read_text().splitlines() if line.strip()]
    wrong, labelled = misses(args.model, rows, args.max_new_tokens)
    print(f'{labelled - len(wrong)} right, {len(wrong)} wrong, {len(rows) - labelled} without a solution (skipped)')
    if not wrong:
        print('error: the model answered every labelled row right: nothing for GRPO to learn from', file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_rows([row for row, _ in wrong], args.out)
    print(f'GRPO rows: {args.out} ({len(wrong)} rows)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
