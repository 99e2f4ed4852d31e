"""A synthetic Chinese visual QA set in swift's jsonl format: shapes, colours, counts and positions drawn with PIL.

Every answer is a short Chinese word that can only be read off the image, so accuracy with real images against
accuracy with blank images measures whether the model sees. The test split's images are drawn from a separate
random stream and never appear in training.
"""
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

from PIL import Image, ImageDraw

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


def draw(scene: Scene, size: int, rng: random.Random) -> Image.Image:
    img = Image.new('RGB', (size, size), (255, 255, 255))
    d = ImageDraw.Draw(img)
    r = size // 8
    x_lo, x_hi = (r + 1, size // 2 - r - 1) if scene.side == '左边' else (size // 2 + r + 1, size - r - 2)
    ys = [size * (k + 1) // (scene.count + 1) for k in range(scene.count)]
    for y in ys:
        x = rng.randint(x_lo, x_hi)
        y = max(r + 1, min(size - r - 2, y + rng.randint(-2, 2)))
        box = (x - r, y - r, x + r, y + r)
        fill = COLOURS[scene.colour]
        if scene.shape == '圆形':
            d.ellipse(box, fill=fill)
        elif scene.shape == '正方形':
            d.rectangle(box, fill=fill)
        else:
            d.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=fill)
    return img


def questions(scene: Scene) -> List[tuple]:
    return [
        (f'图中的{scene.shape}是什么颜色？', scene.colour),
        (f'图中{scene.colour}的是什么形状？', scene.shape),
        (f'图中有几个{scene.shape}？', COUNTS[scene.count - 1] + '个'),
        (f'{scene.shape}在图的哪一边？', scene.side),
    ]


def make_split(out: Path, name: str, n_images: int, seed: int, size: int, text_only: int) -> Path:
    rng = random.Random(seed)
    image_dir = out / 'images' / name
    image_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n_images):
        scene = Scene(rng.choice(SHAPES), rng.choice(list(COLOURS)), rng.randint(1, 3), rng.choice(SIDES))
        path = image_dir / f'{i:05d}.png'
        draw(scene, size, rng).save(path)
        q, a = rng.choice(questions(scene))
        rows.append({'id': f'{name}-{i}', 'messages': [{'role': 'user', 'content': f'<image>{q}'},
                                                         {'role': 'assistant', 'content': a}],
                     'images': [str(path.resolve())]})
    for k in range(text_only):
        q, a = TEXT_ONLY[k % len(TEXT_ONLY)]
        rows.append({'id': f'{name}-text-{k}', 'messages': [{'role': 'user', 'content': q},
                                                              {'role': 'assistant', 'content': a}]})
    rng.shuffle(rows)
    file = out / f'{name}.jsonl'
    file.write_text(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in rows))
    return file


def make_dataset(out: Path, train: int = 400, test: int = 60, size: int = 64, text_only: int = 12,
                 seed: int = 0) -> Dict[str, Path]:
    """Write OUT/train.jsonl and OUT/test.jsonl (held-out images) with their PNGs under OUT/images/."""
    out = Path(out)
    return {
        'train': make_split(out, 'train', train, seed, size, text_only),
        'test': make_split(out, 'test', test, seed + 10_000, size, 0),
    }
