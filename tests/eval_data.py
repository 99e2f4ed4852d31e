"""Tiny benchmark folders in EvalScope's local (Hugging Face) layout, with generated images."""
import io
from pathlib import Path

from PIL import Image, ImageDraw

COLOURS = {'red': (220, 30, 30), 'blue': (30, 70, 220), 'green': (30, 170, 60)}


def png(colour) -> bytes:
    img = Image.new('RGB', (64, 48), (255, 255, 255))
    ImageDraw.Draw(img).ellipse((8, 8, 40, 40), fill=colour)
    buf = io.BytesIO()
    img.save(buf, format='PNG')
    return buf.getvalue()


def write_configs(root: Path, configs) -> None:
    """README.md with the `configs:` block that tells `datasets` which files make which subset."""
    lines = ['---', 'configs:']
    for name, split, pattern in configs:
        lines += [f'- config_name: {name}', '  data_files:', f'  - split: {split}', f'    path: {pattern}']
    (root / 'README.md').write_text('\n'.join(lines + ['---', '']))


def make_mmmu(root: Path, subjects=('Art', 'Math'), per_subject: int = 3, open_question=None) -> Path:
    """MMMU's layout (MMMU/MMMU): a config per subject, split `validation`; multiple-choice rows, or with
    OPEN_QUESTION=(question, answer) open-answer rows (`question_type` open, no options)."""
    import datasets
    features = datasets.Features({
        'id': datasets.Value('string'), 'question': datasets.Value('string'), 'options': datasets.Value('string'),
        'explanation': datasets.Value('string'), 'answer': datasets.Value('string'),
        'img_type': datasets.Value('string'), 'topic_difficulty': datasets.Value('string'),
        'question_type': datasets.Value('string'), 'subfield': datasets.Value('string'),
        **{f'image_{i}': datasets.Image() for i in range(1, 8)}})
    names = list(COLOURS)
    for subject in subjects:
        rows = []
        for k in range(per_subject):
            colour = names[k % len(names)]
            rows.append({'id': f'validation_{subject}_{k}', 'question': '<image 1> What colour is the circle?',
                         'options': str(names), 'explanation': '', 'answer': 'ABC'[k % 3], 'img_type': "['Photos']",
                         'topic_difficulty': 'Easy', 'question_type': 'multiple-choice', 'subfield': subject,
                         'image_1': {'bytes': png(COLOURS[colour]), 'path': None},
                         **{f'image_{i}': None for i in range(2, 8)}})
            if open_question:
                rows[-1].update(question=open_question[0], answer=open_question[1], options='[]',
                                question_type='open')
        (root / subject).mkdir(parents=True, exist_ok=True)
        datasets.Dataset.from_list(rows, features=features).to_parquet(str(root / subject / 'validation-00000.parquet'))
    write_configs(root, [(s, 'validation', f'{s}/validation-*') for s in subjects])
    return root


def make_mmbench(root: Path, subset: str = 'cn', split: str = 'dev', n: int = 3) -> Path:
    """MMBench's layout (lmms-lab/MMBench): subset `cn` split `dev` is MMBench-CN, subset `cc` split `test` CCBench."""
    import datasets
    features = datasets.Features({
        'index': datasets.Value('int64'), 'question': datasets.Value('string'), 'hint': datasets.Value('string'),
        'A': datasets.Value('string'), 'B': datasets.Value('string'), 'C': datasets.Value('string'),
        'D': datasets.Value('string'), 'answer': datasets.Value('string'), 'category': datasets.Value('string'),
        'image': datasets.Image(), 'source': datasets.Value('string'), 'L2-category': datasets.Value('string'),
        'comment': datasets.Value('string'), 'split': datasets.Value('string')})
    chinese = {'red': '红色', 'blue': '蓝色', 'green': '绿色'}
    rows = []
    for k in range(n):
        colour = list(COLOURS)[k % 3]
        rows.append({'index': k, 'question': '图中圆形是什么颜色？', 'hint': 'nan', 'A': '红色', 'B': '蓝色', 'C': '绿色',
                     'D': 'nan', 'answer': 'ABC'[list(chinese).index(colour)], 'category': 'attribute_recognition',
                     'image': {'bytes': png(COLOURS[colour]), 'path': None}, 'source': 'generated',
                     'L2-category': 'perception', 'comment': 'nan', 'split': split})
    (root / subset).mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list(rows, features=features).to_parquet(str(root / subset / f'{split}-00000.parquet'))
    write_configs(root, [(subset, split, f'{subset}/{split}-*')])
    return root


def make_cmmmu(root: Path, subjects=('艺术', '数学'), per_subject: int = 2) -> Path:
    """CMMMU's layout (lmms-lab/CMMMU): one `default` config, split `val`; the subject is the `subcategory` column,
    the image is placed by `<img="FILENAME">` in the question."""
    import datasets
    features = datasets.Features({
        'id': datasets.Value('string'), 'type': datasets.Value('string'), 'source_type': datasets.Value('string'),
        'source': datasets.Value('string'), 'question': datasets.Value('string'),
        **{f'option{i}': datasets.Value('string') for i in range(1, 5)},
        **{f'image_{i}': datasets.Image() for i in range(1, 6)},
        **{f'image_{i}_filename': datasets.Value('string') for i in range(1, 6)},
        'answer': datasets.Value('string'), 'analysis': datasets.Value('string'),
        'distribution': datasets.Value('string'), 'difficulty_level': datasets.Value('string'),
        'subcategory': datasets.Value('string'), 'category': datasets.Value('string'),
        'subfield': datasets.Value('string'), 'img_type': datasets.Value('string')})
    names = list(COLOURS)
    rows = []
    for subject in subjects:
        for k in range(per_subject):
            colour = names[k % len(names)]
            rows.append({'id': f'{subject}_{k}', 'type': '选择', 'source_type': 'generated', 'source': 'generated',
                         'question': f'<img="{subject}_{k}.png">图中圆形是什么颜色？', 'option1': '红色', 'option2': '蓝色',
                         'option3': '绿色', 'option4': '黑色', 'image_1': {'bytes': png(COLOURS[colour]), 'path': None},
                         **{f'image_{i}': None for i in range(2, 6)}, 'image_1_filename': f'{subject}_{k}.png',
                         **{f'image_{i}_filename': '' for i in range(2, 6)}, 'answer': 'ABC'[k % 3],
                         'analysis': '', 'distribution': '', 'difficulty_level': '容易', 'subcategory': subject,
                         'category': '科学', 'subfield': subject, 'img_type': "['照片']"})
    (root / 'data').mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list(rows, features=features).to_parquet(str(root / 'data' / 'val-00000-of-00001.parquet'))
    write_configs(root, [('default', 'val', 'data/val-*')])
    return root
