"""Rows that cannot be trained on: one line each when met, a count by cause at the start and end of training.

The template calls `record` for every row it refuses; with SMVL_BAD_ROWS set (the recipes set it to
OUTPUT_DIR/bad_rows.jsonl) each refusal is also appended there, so rows refused in dataset worker processes are
counted too. The `bad_rows` callback prints the summary on rank 0.
After a failed `swift sft`, `python -m qwen3_smvl.train.bad_rows OUTPUT_DIR/bad_rows.jsonl` ends the recipe's output with
what the refused rows explain (swift's own last words advise cutting samples, which the recipes never do).
"""
import collections
import json
import logging
import os
import sys
from pathlib import Path

from swift.callbacks.base import TrainerCallback

logger = logging.getLogger('qwen3_smvl')
TOO_LONG = 'too long for MAX_LENGTH'
_seen = set()  # (row, cause) already reported by this process: swift retries a failed encode


def record(row: str, cause: str, message: str, log: bool = True) -> None:
    if (row, cause) in _seen:
        return
    _seen.add((row, cause))
    if log:
        logger.warning(f'bad row {row}: {cause}: {message}')
    path = os.environ.get('SMVL_BAD_ROWS')
    if path:
        with open(path, 'a') as f:  # one short line per write: appends from several processes do not interleave
            f.write(json.dumps({'row': row, 'cause': cause, 'message': message}, ensure_ascii=False) + '\n')


def summary(path) -> str:
    """'N bad rows: cause n, ...' for the distinct rows in a bad_rows.jsonl, or '' if there are none."""
    path = Path(path)
    if not path.is_file():
        return ''
    rows = {(r['row'], r['cause']) for r in map(json.loads, path.read_text().splitlines())}
    if not rows:
        return ''
    counts = collections.Counter(cause for _, cause in rows)
    return f'{len(rows)} bad rows dropped: ' + ', '.join(f'{c} {n}' for c, n in counts.most_common()) + f' (see {path})'


def explain_failure(path) -> str:
    """One message for a run that failed after refusing rows ('' when no row was refused)."""
    text = summary(path)
    if not text:
        return ''
    rows = [json.loads(line) for line in Path(path).read_text().splitlines()]
    if any(r['cause'] == TOO_LONG for r in rows):
        return (f'training stopped after refusing rows, {text}. The recipes never cut a sample: raise MAX_LENGTH, or '
                'make images cost fewer tokens (a smaller SMVL_LONGEST_EDGE, or SMVL_IMAGE_SPLITTING=false) and clips '
                'fewer frames (SMVL_VIDEO_FRAMES).')
    return f'training stopped after refusing rows, {text}.'


class BadRowsCallback(TrainerCallback):

    def on_train_begin(self, args, state, control, **kwargs):
        self.report(state, 'before training')

    def on_train_end(self, args, state, control, **kwargs):
        self.report(state, 'after training')

    @staticmethod
    def report(state, when: str) -> None:
        text = summary(os.environ.get('SMVL_BAD_ROWS', ''))
        if text and state.is_world_process_zero:
            logger.warning(f'{when}: {text}')


if __name__ == '__main__':
    message = explain_failure(sys.argv[1])
    if message:
        print(f'error: {message}', file=sys.stderr)
