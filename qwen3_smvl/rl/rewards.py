"""Rewards for swift rlhf (GRPO) on the splice's checkable answers, each a number in [0, 1] per completion.

The truth is the row's `solution` column, written as the answer the model should give (tools/make_dataset.py):
boxes in Qwen's format, `<|object_ref_start|>红色圆形<|object_ref_end|><|box_start|>(125,250),(375,750)<|box_end|>`
(thousandths of the image, so IoU needs no image size: scaling both axes keeps it), or a short Chinese answer.

  box_iou       boxes paired one to one (best IoU first), their IoUs summed over the larger of the two counts: a
                missing or extra box costs its share; 0 when the completion has no readable box
  box_match     1 when the boxes are right as the held-out score counts them (Acc@IoU0.5): as many as the truth,
                paired one to one, every pair at IoU >= 0.5; else 0
  box_format    1 for a well-formed grounding answer: at least one box, every box closed and readable, each after
                its `<|object_ref_start|>` label
  answer_match  1 when the answer (after any thinking) equals the truth once both are normalised: full- and
                half-width alike, punctuation and spaces dropped, Chinese numerals and 两 read as digits
  think_format  1 for `<think>\\n...\\n</think>\\n\\n` with some thinking, then an answer (for thinking on)

swift calls them with the completions and every dataset column (`solution` among them); plugin/register.py
registers them by these names for `--reward_funcs`.
"""
import re
import unicodedata
from typing import List, Optional

from ..answers import answer_text
from ..grounding import boxes_match, mean_iou, parse, pixel_boxes
from ..tokens import THINK_END, THINK_START

DIGITS = {'零': 0, '〇': 0, '一': 1, '二': 2, '两': 2, '三': 3, '四': 4, '五': 5, '六': 6, '七': 7, '八': 8, '九': 9}
NUMERAL = re.compile('[零〇一二两三四五六七八九十]+')


class SolutionError(ValueError):
    """A row whose truth cannot be scored (no solution, or no box in a grounding solution)."""


def chinese_number(text: str) -> str:
    """A Chinese numeral below 100 as digits (三 -> 3, 十二 -> 12, 二十 -> 20); other text unchanged."""
    if '十' not in text:
        return ''.join(str(DIGITS[c]) for c in text) if all(c in DIGITS for c in text) else text
    tens, _, units = text.partition('十')
    if len(tens) > 1 or len(units) > 1 or '十' in units:
        return text
    return str(DIGITS.get(tens, 1) * 10 + DIGITS.get(units, 0))


def normalise(text: str) -> str:
    text = unicodedata.normalize('NFKC', text)  # full-width letters, digits and punctuation to half-width
    text = ''.join(c for c in text if not unicodedata.category(c).startswith(('P', 'Z', 'C', 'S')))
    return NUMERAL.sub(lambda m: chinese_number(m.group(0)), text).lower()


def answer_match(completion: str, solution: Optional[str]) -> float:
    if not solution:
        raise SolutionError('the row has no solution')
    return float(normalise(answer_text(completion)) == normalise(solution))


def truth_boxes(solution: Optional[str]):
    boxes = pixel_boxes(solution or '', 1000, 1000)  # thousandths as they are
    if not boxes:
        raise SolutionError(f'the solution {solution!r} holds no box in Qwen\'s format')
    return boxes


def box_iou(completion: str, solution: Optional[str]) -> float:
    truth = truth_boxes(solution)
    predicted = pixel_boxes(answer_text(completion), 1000, 1000)
    return mean_iou(predicted, truth)


def box_match(completion: str, solution: Optional[str]) -> float:
    return float(boxes_match(pixel_boxes(answer_text(completion), 1000, 1000), truth_boxes(solution)))


def box_format(completion: str) -> float:
    parsed = parse(answer_text(completion))
    return float(bool(parsed.boxes) and not parsed.problems and all(b.ref for b in parsed.boxes))


def think_format(completion: str) -> float:
    text = completion.lstrip()
    if not text.startswith(THINK_START) or THINK_END not in text:
        return 0.0
    thinking, rest = text[len(THINK_START):].split(THINK_END, 1)
    return float(bool(thinking.strip()) and bool(rest.strip()))


REWARDS = {'box_iou': box_iou, 'box_match': box_match, 'box_format': box_format, 'answer_match': answer_match,
           'think_format': think_format}
NEEDS_BOXES = {'box_iou', 'box_match'}
NEEDS_SOLUTION = NEEDS_BOXES | {'answer_match'}


def scores(name: str, completions: List[str], solution: Optional[List[str]] = None) -> List[float]:
    """REWARDS[name] over a batch (swift passes each dataset column as a list beside the completions)."""
    reward = REWARDS[name]
    if name not in NEEDS_SOLUTION:
        return [reward(c) for c in completions]
    if solution is None:
        raise SolutionError(f'{name} needs a `solution` column in the dataset (tools/make_dataset.py writes it)')
    return [reward(c, s) for c, s in zip(completions, solution)]
