"""A synthetic Chinese visual QA set in swift's jsonl format: shapes, colours, counts and positions drawn with PIL.

Every answer is a short Chinese word that can only be read off the image, so accuracy with real images against
accuracy with blank images measures whether the model sees. Held-out pictures are never trained on, in any split
of any seed: one picture in HELD_OUT_EVERY, chosen by what is drawn (shape, colour, positions), is held out; training
splits never draw it and held-out splits draw only those (the box layout has only 1,548 distinct pictures, so a
separate random stream alone drew two thirds of the held-out box pictures again in training). Empty pictures
(white, nothing drawn) asked the same questions teach the answer a seeing model gives there, "图中没有圆形" (there
is no circle), instead of a guess from the priors.

The grounding task asks for boxes ("框出图中的红色圆形" -> one box; "图中有哪些三角形？请给出位置" -> one per shape)
in swift's objects format: `<ref-object>` and `<bbox>` tags, `objects: {ref, bbox}` with boxes in pixels, which the
template writes in Qwen's tokens as thousandths of the image size. Every row also carries its `solution`: the answer
as the model should give it (boxes in Qwen's tokens), which stage 3's rewards score completions against. Training
box pictures are drawn evenly over the distinct pictures (84 of every 129 show three shapes, the hardest to list), or
on request (make demo-rl's GRPO rows) one count in three, as the held-out ones always are.
"""
import json
import math
import random
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

from PIL import Image, ImageDraw

from ..grounding import box_answer

COLOURS: Dict[str, tuple] = {'红色': (220, 30, 30), '蓝色': (30, 70, 220), '绿色': (30, 170, 60), '黄色': (235, 200, 20)}
SHAPES = ('圆形', '正方形', '三角形')
COUNTS = ('一', '两', '三')
SIDES = ('左边', '右边')
TEXT_ONLY = [('你好', '你好！有什么可以帮你？'), ('你是谁？', '我是一个能看图的助手。'), ('谢谢', '不客气。')]


@dataclass
class Scene:
    shape: str
    colour: str
    count: int
    side: str


# Question phrasings for one shape and for several; the answer is the ref again, then a box per shape.
ONE_BOX = ['框出图中的<ref-object>', '请标出<ref-object>的位置', '<ref-object>在哪里？请给出坐标', '找到<ref-object>并框出来']
SEVERAL_BOXES = ['图中有哪些<ref-object>？请给出位置', '框出图中所有的<ref-object>', '标出每个<ref-object>的位置']


def random_scene(rng: random.Random, count_weights=None) -> Scene:
    shape, colour = rng.choice(SHAPES), rng.choice(list(COLOURS))  # drawn first, as before: a seed's scenes unchanged
    count = rng.choices((1, 2, 3), count_weights)[0] if count_weights else rng.randint(1, 3)
    return Scene(shape, colour, count, rng.choice(SIDES))


def side_centres(scene: Scene, size: int, rng: random.Random) -> List[Tuple[int, int]]:
    """QA layout: the shapes in a column on the scene's side, at random heights around even spacing."""
    r = size // 8
    x_lo, x_hi = (r + 1, size // 2 - r - 1) if scene.side == '左边' else (size // 2 + r + 1, size - r - 2)
    ys = [size * (k + 1) // (scene.count + 1) for k in range(scene.count)]
    return [(rng.randint(x_lo, x_hi), max(r + 1, min(size - r - 2, y + rng.randint(-2, 2)))) for y in ys]


def grid_centres(scene: Scene, size: int, rng: random.Random) -> List[Tuple[int, int]]:
    """Grounding layout: the shapes in distinct cells of a 3x3 grid (the side is not used), listed row by row, which
    is the answer's box order."""
    cells = sorted(rng.sample(range(9), scene.count))
    return [(int((k % 3 + .5) * size / 3), int((k // 3 + .5) * size / 3)) for k in cells]


HELD_OUT_EVERY = 7


def is_held_out(scene: Scene, centres: List[Tuple[int, int]]) -> bool:
    """Whether the picture of SCENE at CENTRES belongs to the held-out pictures (a hash of what is drawn)."""
    return zlib.crc32(repr((scene.shape, scene.colour, centres)).encode()) % HELD_OUT_EVERY == 0


# How many distinct box pictures show 1, 2 and 3 shapes of a shape and colour (cells of the 3x3 grid taken 1-3)
GRID_PICTURES = tuple(math.comb(9, k) for k in (1, 2, 3))


def random_picture(rng: random.Random, size: int, layout, held_out: bool = False,
                   count_weights=None) -> Tuple[Scene, list]:
    """A random scene and its shapes' centres in LAYOUT, drawn again until it is (or is not) a held-out picture."""
    while True:
        scene = random_scene(rng, count_weights)
        centres = layout(scene, size, rng)
        if is_held_out(scene, centres) == held_out:
            return scene, centres


def draw(scene: Scene, centres: List[Tuple[int, int]], size: int) -> Tuple[Image.Image, List[List[int]]]:
    """The picture and each shape's box in pixels (x1, y1, x2, y2), in the order of the centres."""
    img = Image.new('RGB', (size, size), (255, 255, 255))
    d = ImageDraw.Draw(img)
    r = size // 8
    boxes = []
    for x, y in centres:
        box = (x - r, y - r, x + r, y + r)
        boxes.append(list(box))
        fill = COLOURS[scene.colour]
        if scene.shape == '圆形':
            d.ellipse(box, fill=fill)
        elif scene.shape == '正方形':
            d.rectangle(box, fill=fill)
        else:
            d.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=fill)
    return img, boxes


def questions(scene: Scene) -> List[tuple]:
    return [
        (f'图中的{scene.shape}是什么颜色？', scene.colour),
        (f'图中{scene.colour}的是什么形状？', scene.shape),
        (f'图中有几个{scene.shape}？', COUNTS[scene.count - 1] + '个'),
        (f'{scene.shape}在图的哪一边？', scene.side),
    ]


def absent_answers(scene: Scene) -> List[tuple]:
    """The four questions of SCENE asked of an empty picture, each answered with what is not there."""
    return [(q, f'图中没有{scene.colour}的图形' if k == 1 else f'图中没有{scene.shape}')
            for k, (q, _) in enumerate(questions(scene))]


def is_absent_answer(answer: str) -> bool:
    return answer.startswith('图中没有')


def grounding_row(scene: Scene, boxes: List[List[int]], rng: random.Random, size: int) -> dict:
    """A grounding question in swift's objects format: the ref is said twice (question and answer), then its boxes."""
    q, ref = (rng.choice(ONE_BOX), scene.colour + scene.shape) if len(boxes) == 1 else \
        (rng.choice(SEVERAL_BOXES), scene.shape)
    return {'messages': [{'role': 'user', 'content': f'<image>{q}'},
                         {'role': 'assistant', 'content': '<ref-object>' + '<bbox>' * len(boxes)}],
            'objects': {'ref': [ref, ref], 'bbox': boxes}, 'solution': box_answer(ref, boxes, size, size)}


def conversation(pairs: List[tuple]) -> dict:
    """Question-answer PAIRS as one conversation, the picture in the first turn; `solution` is the last answer."""
    turns = [[{'role': 'user', 'content': ('<image>' if k == 0 else '') + q},
              {'role': 'assistant', 'content': a}] for k, (q, a) in enumerate(pairs)]
    return {'messages': sum(turns, []), 'solution': pairs[-1][1]}


def ask(pairs: List[tuple], rng: random.Random, questions_per_image: int) -> List[tuple]:
    return [rng.choice(pairs)] if questions_per_image == 1 else rng.sample(pairs, questions_per_image)


def make_split(out: Path, name: str, n_images: int, seed: int, size: int, text_only: int,
               grounding: bool = False, questions_per_image: int = 1, empty: int = 0, held_out: bool = False,
               even_counts: bool = False) -> Path:
    """A QA row asks QUESTIONS_PER_IMAGE of its picture's four questions, one conversation turn each (the picture
    in the first); its `solution` is the last turn's answer, the one a completion of the row gives. EMPTY more
    rows ask the same of an empty picture (their own random stream: the drawn rows stay those of the seed). Box
    pictures for training are drawn evenly over the distinct pictures, or with EVEN_COUNTS one count in three."""
    rng = random.Random(seed)
    image_dir = out / 'images' / name
    image_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n_images):
        scene, centres = random_picture(rng, size, grid_centres if grounding else side_centres, held_out,
                                        GRID_PICTURES if grounding and not (held_out or even_counts) else None)
        path = image_dir / f'{i:05d}.png'
        image, boxes = draw(scene, centres, size)
        image.save(path)
        if grounding:
            row = grounding_row(scene, boxes, rng, size)
        else:
            row = conversation(ask(questions(scene), rng, questions_per_image))
        rows.append({'id': f'{name}-{i}', **row, 'images': [str(path.resolve())]})
    if empty:
        path, empty_rng = image_dir / 'empty.png', random.Random(seed + 40_000)
        Image.new('RGB', (size, size), (255, 255, 255)).save(path)
        for k in range(empty):
            pairs = ask(absent_answers(random_scene(empty_rng)), empty_rng, questions_per_image)
            rows.append({'id': f'{name}-empty-{k}', **conversation(pairs), 'images': [str(path.resolve())]})
    for k in range(text_only):
        q, a = TEXT_ONLY[k % len(TEXT_ONLY)]
        rows.append({'id': f'{name}-text-{k}', 'messages': [{'role': 'user', 'content': q},
                                                              {'role': 'assistant', 'content': a}], 'solution': a})
    rng.shuffle(rows)
    file = out / f'{name}.jsonl'
    file.write_text(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in rows))
    return file


def make_dataset(out: Path, train: int = 400, test: int = 60, size: int = 64, text_only: int = 12,
                 seed: int = 0, grounding: int = 0, grounding_test: int = 0,
                 questions_per_image: int = 1, empty: int = 0, grounding_even_counts: bool = False) -> Dict[str, Path]:
    """Write OUT/train.jsonl and OUT/test.jsonl (held-out images) with their PNGs under OUT/images/, and with
    grounding images OUT/grounding_train.jsonl and OUT/grounding_test.jsonl (train on both: DATASET="A B").
    QUESTIONS_PER_IMAGE (1-4 turns a picture) and EMPTY (more training rows on an empty picture) apply to training;
    every held-out picture is asked one question. GROUNDING_EVEN_COUNTS draws training box pictures one count in
    three, as the held-out ones are (default: evenly over the distinct pictures, most with three shapes)."""
    if not 1 <= questions_per_image <= 4:  # colour, shape, count, side
        raise ValueError(f'questions_per_image: a picture has 4 questions (colour, shape, count, side), '
                         f'not {questions_per_image}')
    out = Path(out)
    files = {
        'train': make_split(out, 'train', train, seed, size, text_only, questions_per_image=questions_per_image,
                            empty=empty),
        'test': make_split(out, 'test', test, seed + 10_000, size, 0, held_out=True),
    }
    if grounding or grounding_test:
        files['grounding_train'] = make_split(out, 'grounding_train', grounding, seed + 20_000, size, 0, True,
                                              even_counts=grounding_even_counts)
        files['grounding_test'] = make_split(out, 'grounding_test', grounding_test, seed + 30_000, size, 0, True,
                                             held_out=True)
    return files
