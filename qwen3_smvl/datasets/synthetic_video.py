"""A synthetic Chinese video QA set in swift's jsonl format: short mp4 clips (PyAV) whose answers need time.

Every clip is SEGMENTS seconds long at FPS frames a second and shows one still picture per second, so SmolVLM2's
sampling (1 frame a second) sees each picture once. The questions cannot be answered from one frame:
- 圆形往哪个方向移动？ the circle starts at the centre in every clip and moves one way;
- 先出现的是什么颜色？ the first second is empty, then one square appears, then a second one beside it;
- 一共出现了几个图形？ the first second is empty, then one to three shapes appear one at a time, each alone.
So the first frame alone leaves only the priors (1/4, 1/4, 1/3), and a blank clip the same. The test split is drawn
from a separate random stream.
"""
import json
import random
from pathlib import Path
from typing import Dict, List

import numpy as np
from PIL import Image, ImageDraw

from .synthetic import COLOURS, COUNTS, SHAPES

SEGMENTS = 4  # seconds, one picture each
FPS = 4
DIRECTIONS = {'向左': (-1, 0), '向右': (1, 0), '向上': (0, -1), '向下': (0, 1)}


def write_mp4(path: Path, frames: List[Image.Image], fps: int = FPS) -> Path:
    """H.264 in mp4 (yuv420p, near-lossless), moov first, so that a truncated file still opens."""
    import av
    width, height = frames[0].size
    with av.open(str(path), 'w', options={'movflags': 'faststart'}) as container:
        stream = container.add_stream('libx264', rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, 'yuv420p'
        stream.options = {'crf': '10', 'preset': 'veryfast'}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_image(frame)))
        container.mux(stream.encode())
    return path


def shape_picture(size: int, shapes: List[tuple]) -> Image.Image:
    """White picture with (shape, colour, (x, y)) drawn at radius size/5."""
    img = Image.new('RGB', (size, size), (255, 255, 255))
    d, r = ImageDraw.Draw(img), size // 5  # large: the tiny tower reads 32-pixel frames
    for shape, colour, (x, y) in shapes:
        box, fill = (x - r, y - r, x + r, y + r), COLOURS[colour]
        if shape == '圆形':
            d.ellipse(box, fill=fill)
        elif shape == '正方形':
            d.rectangle(box, fill=fill)
        else:
            d.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=fill)
    return img


def moving_circle(size: int, rng: random.Random):
    direction = rng.choice(list(DIRECTIONS))
    dx, dy = DIRECTIONS[direction]
    colour, step, j = rng.choice(list(COLOURS)), size // 10, size // 8
    x, y = size // 2 + rng.randint(-j, j), size // 2 + rng.randint(-j, j)  # near the centre whichever way it goes
    pictures = [shape_picture(size, [('圆形', colour, (x + k * dx * step, y + k * dy * step))])
                for k in range(SEGMENTS)]
    return pictures, '圆形往哪个方向移动？', direction


def first_colour(size: int, rng: random.Random):
    first, second = rng.sample(list(COLOURS), 2)
    y, j = size // 2, size // 8
    left, right = (size // 4, y + rng.randint(-j, j)), (3 * size // 4, y + rng.randint(-j, j))
    a, b = (left, right) if rng.random() < .5 else (right, left)  # where the first appears says nothing
    pictures = [shape_picture(size, []), shape_picture(size, [('正方形', first, a)])]
    pictures += [shape_picture(size, [('正方形', first, a), ('正方形', second, b)])] * (SEGMENTS - 2)
    return pictures, '先出现的是什么颜色？', first


def shape_count(size: int, rng: random.Random):
    count = rng.randint(1, SEGMENTS - 1)
    j = size // 10
    centres = [(size // 2 + rng.randint(-j, j), size // 2 + rng.randint(-j, j)) for _ in range(count)]
    shown = [(rng.choice(SHAPES), rng.choice(list(COLOURS)), c) for c in centres]
    pictures = [shape_picture(size, [])] + [shape_picture(size, [s]) for s in shown]
    pictures += [shape_picture(size, [])] * (SEGMENTS - len(pictures))
    return pictures, '一共出现了几个图形？', COUNTS[count - 1] + '个'


TASKS = (moving_circle, first_colour, shape_count)


def make_split(out: Path, name: str, n_clips: int, seed: int, size: int, seen: set) -> Path:
    """n_clips clips, the tasks in turn, none whose pictures are already in `seen` (which it extends)."""
    rng = random.Random(seed)
    clip_dir = out / 'videos' / name
    clip_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n_clips):
        for _ in range(1000):
            pictures, question, answer = TASKS[i % len(TASKS)](size, rng)
            key = b''.join(p.tobytes() for p in pictures)
            if key not in seen:
                break
        else:
            raise ValueError(f'{size}-pixel clips run out of distinct {TASKS[i % len(TASKS)].__name__} clips before '
                             f'{n_clips} (plus the other split): ask for fewer, or a larger --size')
        seen.add(key)
        path = write_mp4(clip_dir / f'{i:05d}.mp4', [p for p in pictures for _ in range(FPS)])
        rows.append({'id': f'{name}-{i}', 'messages': [{'role': 'user', 'content': f'<video>{question}'},
                                                         {'role': 'assistant', 'content': answer}],
                     'videos': [str(path.resolve())]})
    rng.shuffle(rows)
    file = out / f'{name}.jsonl'
    file.write_text(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in rows))
    return file


def make_video_dataset(out: Path, train: int = 300, test: int = 60, size: int = 64, seed: int = 0) -> Dict[str, Path]:
    """OUT/video_train.jsonl and OUT/video_test.jsonl (held-out clips) with their mp4s under OUT/videos/."""
    out = Path(out)
    seen = set()  # held-out clips are none of the training clips
    return {'video_train': make_split(out, 'video_train', train, seed + 40_000, size, seen),
            'video_test': make_split(out, 'video_test', test, seed + 50_000, size, seen)}


def first_frame_clip(path: Path, out: Path) -> Path:
    """The clip with its first frame held for its whole length (same duration and frame count)."""
    from transformers.video_utils import load_video
    frames, _ = load_video(str(path), backend='pyav')
    return write_mp4(out, [Image.fromarray(frames[0])] * len(frames))


def blank_clip(path: Path, out: Path) -> Path:
    """A black clip of the same size, duration and frame count."""
    from transformers.video_utils import load_video
    frames, _ = load_video(str(path), backend='pyav')
    return write_mp4(out, [Image.fromarray(np.zeros_like(frames[0]))] * len(frames))
