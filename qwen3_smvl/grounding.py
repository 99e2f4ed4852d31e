"""Boxes in Qwen's grounding format: read them out of generated text, turn them into pixels, score them.

  <|object_ref_start|>红色圆形<|object_ref_end|><|box_start|>(100,100),(300,500)<|box_end|>

Coordinates are thousandths of the original image's width and height (swift's norm1000, applied by the template before
any resize), upright: EXIF orientation applied, as images.open_image does. A box belongs to the last ref before it; several boxes may follow one ref, and a box with no ref before
it has ref None. `parse` never raises: what it cannot read goes to `problems`, one line each.
"""
import re
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

from .tokens import BOX_END, BOX_START, OBJECT_REF_END, OBJECT_REF_START

NUMBER = r'\s*(-?\d+(?:\.\d+)?)\s*'
CORNERS = re.compile(rf'^\s*\({NUMBER},{NUMBER}\)\s*,\s*\({NUMBER},{NUMBER}\)\s*$')
SPANS = re.compile(rf'{re.escape(OBJECT_REF_START)}(.*?)(?:{re.escape(OBJECT_REF_END)}|$)'
                   rf'|{re.escape(BOX_START)}(.*?)(?:{re.escape(BOX_END)}|$)', re.S)


@dataclass
class Box:
    ref: Optional[str]
    x1: int  # thousandths of the image width and height, clipped to 0-1000, x1 <= x2 and y1 <= y2
    y1: int
    x2: int
    y2: int

    def to_pixels(self, width: int, height: int) -> Tuple[float, float, float, float]:
        return (self.x1 * width / 1000, self.y1 * height / 1000, self.x2 * width / 1000, self.y2 * height / 1000)


@dataclass
class Parsed:
    boxes: List[Box] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)


def parse(text: str) -> Parsed:
    parsed, ref = Parsed(), None
    for match in SPANS.finditer(text or ''):
        ref_text, box_text = match.group(1), match.group(2)
        closed = match.group(0).endswith(OBJECT_REF_END if ref_text is not None else BOX_END)
        if ref_text is not None:
            ref = ref_text.strip() or None
            if not closed:
                parsed.problems.append(f'unclosed ref {match.group(0)!r}')
            continue
        corners = CORNERS.match(box_text)
        if not closed or corners is None:
            parsed.problems.append(f'malformed box {match.group(0)!r}')
            continue
        x1, y1, x2, y2 = (min(1000, max(0, round(float(v)))) for v in corners.groups())
        if (x1, y1, x2, y2) != tuple(round(float(v)) for v in corners.groups()):
            parsed.problems.append(f'box {match.group(0)!r} clipped to 0-1000')
        parsed.boxes.append(Box(ref, min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)))
    return parsed


def pixel_boxes(text: str, width: int, height: int) -> List[Tuple[float, float, float, float]]:
    """Every box in a generated text, in pixels of a width x height image."""
    return [b.to_pixels(width, height) for b in parse(text).boxes]


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes; 0 for empty ones."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0., w) * max(0., h)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.


def paired_ious(predicted: Sequence[Sequence[float]], truth: Sequence[Sequence[float]]) -> List[float]:
    """The IoUs of boxes paired one to one, best IoU first (as many pairs as the fewer of the two)."""
    pairs = sorted(((iou(p, t), i, j) for i, p in enumerate(predicted) for j, t in enumerate(truth)), reverse=True)
    used_p, used_t, scores = set(), set(), []
    for score, i, j in pairs:
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
            scores.append(score)
    return scores


def mean_iou(predicted: Sequence[Sequence[float]], truth: Sequence[Sequence[float]]) -> float:
    """The paired IoUs averaged over the larger of the two lists: a missing or extra box counts as IoU 0."""
    return sum(paired_ious(predicted, truth)) / max(len(predicted), len(truth), 1)


def boxes_match(predicted: Sequence[Sequence[float]], truth: Sequence[Sequence[float]], threshold: float = 0.5) -> bool:
    """As many boxes as the truth, paired one to one (best IoU first) with every pair at IoU >= threshold."""
    return len(predicted) == len(truth) and all(score >= threshold for score in paired_ious(predicted, truth))


def box_outside_image(objects: dict, sizes: Sequence[Tuple[int, int]], files: Sequence[str]) -> Optional[str]:
    """Why a row's first box outside its image is (its pixels, or 0-1 for `bbox_type: norm1`), or None if none is;
    sizes are the upright images' (width, height), files what to call them."""
    image_ids = list(objects.get('image_id') or [])
    for k, box in enumerate(objects.get('bbox') or []):
        image = image_ids[k] if k < len(image_ids) else 0
        if image >= len(sizes):
            return f'box {k} {box} is on image {image}, and the row has {len(sizes)} images'
        norm1 = objects.get('bbox_type') == 'norm1'
        width, height = (1, 1) if norm1 else sizes[image]
        if not all(0 <= x <= width for x in box[::2]) or not all(0 <= y <= height for y in box[1::2]):
            if norm1:
                return f'box {k} {box} (bbox_type norm1) is outside 0-1'
            return (f'box {k} {box} is outside image {image} ({files[image]}), {width}x{height} upright (boxes are in '
                    'the pixels of the picture the right way up, after its EXIF orientation)')
    return None


def box_answer(ref: str, boxes: Sequence[Sequence[float]], width: int, height: int) -> str:
    """The answer the template trains for a ref and its pixel boxes on a WIDTH x HEIGHT image: swift's norm1000
    rounding, its `(x1,y1),(x2,y2)` form (a GRPO row's `solution`)."""
    def box(b):
        x1, y1, x2, y2 = (int(round(v / (width if k % 2 == 0 else height) * 1000)) for k, v in enumerate(b))
        return f'{BOX_START}({x1},{y1}),({x2},{y2}){BOX_END}'
    return f'{OBJECT_REF_START}{ref}{OBJECT_REF_END}' + ''.join(box(b) for b in boxes)


def render(text: str, objects: dict) -> str:
    """A question's `<ref-object>` tags filled in as the template renders them (for a plain OpenAI request)."""
    refs = list(objects.get('ref') or [])
    if '<bbox>' in text:
        raise ValueError(f'{text!r}: a <bbox> in a question needs the image size; send it through swift\'s template')
    if text.count('<ref-object>') > len(refs):
        raise ValueError(f'{text!r} has more <ref-object> tags than objects.ref has refs ({len(refs)})')
    refs.reverse()
    return re.sub('<ref-object>', lambda _: f'{OBJECT_REF_START}{refs.pop()}{OBJECT_REF_END}', text)
