"""A model's own mistakes on labelled rows (greedy, through swift's engine and the plugin, as served), for stage 3:
DPO pairs whose chosen answer is the row's own (the truth) and whose rejected answer is the model's, and GRPO rows
narrowed to the questions it misses (a group whose rollouts all score alike has nothing to learn from).

Right means: every box matched one to one at IoU >= 0.5 for a grounding row (its `solution` has boxes), the
normalised answer equal to the `solution` otherwise (qwen3_smvl/rl/rewards.py). Rows without a `solution` are
skipped and counted.
"""
import json
from pathlib import Path
from typing import Dict, List

from ..answers import generate
from ..grounding import boxes_match, pixel_boxes
from .rewards import answer_match


def right(answer: str, solution: str) -> bool:
    truth = pixel_boxes(solution, 1000, 1000)
    if truth:  # thousandths on both sides: IoU as in pixels
        return boxes_match(pixel_boxes(answer, 1000, 1000), truth)
    return answer_match(answer, solution) == 1.0


def preference_rows(model_dir, rows: List[dict], max_new_tokens: int = 64) -> Dict:
    """{'rows': DPO rows (the row, plus `rejected_response`), 'misses': the rows answered wrong as they are (GRPO
    rows), 'right', 'wrong', 'skipped'}."""
    labelled = [row for row in rows if row.get('solution')]
    answers = generate(model_dir, labelled, max_new_tokens=max_new_tokens)
    wrong = [(row, a) for row, a in zip(labelled, answers) if not right(a, row['solution'])]
    pairs = [dict(row, rejected_response=answer) for row, answer in wrong if answer.strip()]
    return {'rows': pairs, 'misses': [row for row, _ in wrong], 'right': len(labelled) - len(wrong),
            'wrong': len(wrong), 'skipped': len(rows) - len(labelled)}


def write_rows(rows: List[dict], out: Path) -> None:
    """OUT written whole or not at all."""
    tmp = out.with_name(out.name + '.part')
    tmp.write_text(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in rows))
    tmp.replace(out)
