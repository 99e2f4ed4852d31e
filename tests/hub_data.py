"""Local copies of hub datasets in their exact on-disk schema (parquet with `datasets` feature types), for tests.

  the_cauldron/<subset>/train-00000-of-00001-<hash>.parquet  images: Sequence(Image),
                                                             texts: [{user, assistant, source}]
  llava-en-zh-300k/zh/train-0000N-of-00002.parquet            messages: [{content, role}], images: Sequence(Image)
  alpaca-gpt4-data-zh/train-00000-of-00001.parquet             instruction, input, output
"""
import io
from pathlib import Path

from datasets import Dataset, Features, Image as ImageFeature, Sequence, Value
from PIL import Image


def png(colour, size=(48, 40)) -> dict:
    buf = io.BytesIO()
    Image.new('RGB', size, colour).save(buf, format='PNG')
    return {'bytes': buf.getvalue(), 'path': None}


CORRUPT = {'bytes': b'\x89PNG\r\n\x1a\nnot really a png', 'path': None}


def cauldron_subset(root: Path, name: str = 'cocoqa') -> Path:
    """Five rows: one image, two images, two turns, no usable turn (dropped), corrupt image bytes."""
    features = Features({'images': Sequence(ImageFeature()),
                         'texts': [{'user': Value('string'), 'assistant': Value('string'), 'source': Value('string')}]})

    def turn(question, answer):
        return {'user': question, 'assistant': answer, 'source': name}

    rows = [
        {'images': [png((220, 30, 30))], 'texts': [turn('What colour is the square?', 'Red.')]},
        {'images': [png((30, 30, 220)), png((30, 170, 60), (64, 32))],
         'texts': [turn('Are the two pictures the same colour?', 'No.')]},
        {'images': [png((235, 200, 20))], 'texts': [turn('What colour is it?', 'Yellow.'),
                                                    turn('Is it bright?', 'Yes.')]},
        {'images': [png((0, 0, 0))], 'texts': []},
        {'images': [CORRUPT], 'texts': [turn('What is this?', 'Noise.')]},
    ]
    folder = root / 'the_cauldron' / name
    folder.mkdir(parents=True, exist_ok=True)
    Dataset.from_list(rows, features=features).to_parquet(folder / 'train-00000-of-00001-0123456789abcdef.parquet')
    return folder


def llava_zh(root: Path) -> Path:
    features = Features({'messages': [{'content': Value('string'), 'role': Value('string')}],
                         'images': Sequence(ImageFeature())})
    rows = [{'messages': [{'content': '<image>图中是什么颜色？', 'role': 'user'}, {'content': '红色。', 'role': 'assistant'},
                          {'content': '它是什么形状？', 'role': 'user'}, {'content': '正方形。', 'role': 'assistant'}],
             'images': [png((220, 30, 30))]},
            {'messages': [{'content': '请描述这张图片。\n<image>', 'role': 'user'},
                          {'content': '一张蓝色的图片。', 'role': 'assistant'}], 'images': [png((30, 30, 220))]}]
    folder = root / 'llava-en-zh-300k' / 'zh'
    folder.mkdir(parents=True, exist_ok=True)
    for k, row in enumerate(rows):
        Dataset.from_list([row], features=features).to_parquet(folder / f'train-{k:05d}-of-00002.parquet')
    return folder


def alpaca_zh(root: Path) -> Path:
    rows = [{'instruction': '用一句话介绍长城。', 'input': '', 'output': '长城是中国古代修建的军事防御工程。'},
            {'instruction': '把下面的词翻译成英文。', 'input': '苹果', 'output': 'apple'}]
    folder = root / 'alpaca-gpt4-data-zh'
    folder.mkdir(parents=True, exist_ok=True)
    Dataset.from_list(rows).to_parquet(folder / 'train-00000-of-00001.parquet')
    return folder
