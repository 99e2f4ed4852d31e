"""GRPO rows checked for their truth before training: a row the rewards could not score is named, the causes
counted, and the run refused (exit 2), before any model loads; a reward would otherwise fail mid-run.

  python -m qwen3_smvl.rl.solutions --reward-funcs box_iou box_format --dataset a.jsonl [b.jsonl ...]

Only local jsonl files are read (hub datasets are left to the rewards).
"""
import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Optional

from .rewards import NEEDS_BOXES, NEEDS_SOLUTION, SolutionError, truth_boxes


def problem(row: dict, reward_funcs) -> Optional[str]:
    """Why REWARD_FUNCS could not score ROW, or None."""
    needs = NEEDS_SOLUTION & set(reward_funcs)
    if not needs:
        return None
    if not isinstance(row.get('solution'), str) or not row['solution'].strip():
        return 'no solution'
    if needs & NEEDS_BOXES:
        try:
            truth_boxes(row['solution'])
        except SolutionError:
            return 'solution holds no box'
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--reward-funcs', nargs='+', required=True)
    ap.add_argument('--dataset', nargs='+', required=True)
    args = ap.parse_args(argv)
    causes = Counter()
    for path in [Path(d) for d in args.dataset if d.endswith('.jsonl') and Path(d).is_file()]:
        rows = [(n, json.loads(line)) for n, line in enumerate(path.read_text().splitlines(), 1) if line.strip()]
        for n, row in rows:
            if cause := problem(row, args.reward_funcs):
                causes[cause] += 1
                named = f' (id={row["id"]!r})' if row.get('id') is not None else ''
                print(f'bad row {path}:{n}{named}: {cause}', file=sys.stderr)
    if causes:
        print(f'error: {sum(causes.values())} rows cannot be scored by {" ".join(args.reward_funcs)} '
              f'({", ".join(f"{c}: {k}" for c, k in causes.items())}); give each a `solution` (the answer the '
              'model should give, boxes in Qwen\'s format: tools/make_dataset.py writes it)', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
