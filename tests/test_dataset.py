"""The synthetic Chinese VQA generator: swift jsonl, held-out images, answers drawn from the picture."""
import hashlib
import json

import pytest
from PIL import Image

from qwen3_smvl.datasets.synthetic import COLOURS, is_absent_answer, make_dataset


def pixel_digest(path) -> str:
    return hashlib.sha256(Image.open(path).tobytes()).hexdigest()


def test_splits_are_swift_jsonl_with_held_out_images(tmp_path):
    files = make_dataset(tmp_path, train=30, test=10, size=48, text_only=3)
    train = [json.loads(line) for line in files['train'].read_text().splitlines()]
    test = [json.loads(line) for line in files['test'].read_text().splitlines()]
    assert len(train) == 33 and len(test) == 10
    assert sum('images' not in r for r in train) == 3  # text-only samples mixed into training
    for row in train + test:
        assert [m['role'] for m in row['messages']] == ['user', 'assistant']
        assert row['messages'][0]['content'].count('<image>') == len(row.get('images', []))
    seen = {pixel_digest(r['images'][0]) for r in train if 'images' in r}
    assert not seen & {pixel_digest(r['images'][0]) for r in test}


def test_colour_answers_are_in_the_picture(tmp_path):
    files = make_dataset(tmp_path, train=40, test=0, size=48, text_only=0)
    checked = 0
    for row in map(json.loads, files['train'].read_text().splitlines()):
        question, answer = row['messages'][0]['content'], row['messages'][1]['content']
        if question.endswith('是什么颜色？'):
            colours = {colour for _, colour in Image.open(row['images'][0]).convert('RGB').getcolors(1 << 16)}
            assert COLOURS[answer] in colours
            checked += 1
    assert checked > 0


def test_each_training_picture_can_be_asked_all_its_questions(tmp_path):
    files = make_dataset(tmp_path, train=5, test=3, size=48, text_only=0, questions_per_image=4)
    train = [json.loads(line) for line in files['train'].read_text().splitlines()]
    assert len(train) == 5 and len({row['images'][0] for row in train}) == 5
    for row in train:  # one conversation a picture: the four kinds, each once, the picture in the first turn
        users, answers = row['messages'][0::2], row['messages'][1::2]
        assert [m['role'] for m in users] == ['user'] * 4 and [m['role'] for m in answers] == ['assistant'] * 4
        kinds = sorted(next(k for k in ('颜色', '形状', '几个', '哪一边') if k in m['content']) for m in users)
        assert kinds == sorted(['颜色', '形状', '几个', '哪一边'])
        assert [m['content'].count('<image>') for m in users] == [1, 0, 0, 0]
        assert row['solution'] == answers[-1]['content']
    assert sum(1 for _ in files['test'].open()) == 3  # held out: one question a picture, as before
    with pytest.raises(ValueError, match='4 questions'):
        make_dataset(tmp_path / 'bad', train=1, test=0, questions_per_image=5)


def test_empty_pictures_are_answered_with_what_is_not_there(tmp_path):
    plain = make_dataset(tmp_path / 'plain', train=6, test=2, size=48, text_only=0, questions_per_image=2)
    files = make_dataset(tmp_path / 'empty', train=6, test=2, size=48, text_only=0, questions_per_image=2, empty=3)
    rows = {r['id']: r for r in map(json.loads, files['train'].read_text().splitlines())}
    drawn = {r['id']: r for r in map(json.loads, plain['train'].read_text().splitlines())}
    assert all(rows[i]['messages'] == r['messages'] for i, r in drawn.items())  # the seed's drawn rows unchanged
    empty = [r for i, r in rows.items() if i not in drawn]
    assert len(empty) == 3 and files['test'].read_text().replace('/empty/', '/plain/') == plain['test'].read_text()
    for row in empty:
        assert Image.open(row['images'][0]).convert('RGB').getcolors() == [(48 * 48, (255, 255, 255))]
        for question, answer in zip(row['messages'][0::2], row['messages'][1::2]):
            assert is_absent_answer(answer['content'])
            named = answer['content'].removeprefix('图中没有').removesuffix('的图形')
            assert named in question['content']  # says which thing is missing: the one asked about
        assert row['solution'] == row['messages'][-1]['content']


def test_held_out_pictures_are_never_trained_on_in_any_seed(tmp_path):
    # the box layout has 1,548 distinct pictures: without the rule, 32 of 50 held-out box pictures were training ones
    pixels = lambda rows: {pixel_digest(r['images'][0]) for r in rows}  # noqa: E731
    rows = lambda file: [json.loads(line) for line in file.read_text().splitlines()]  # noqa: E731
    trained, held_out = set(), set()
    for seed in (0, 1):  # demo-rl trains on another seed's rows
        files = make_dataset(tmp_path / str(seed), train=150, test=60, size=48, text_only=0, seed=seed,
                             grounding=600, grounding_test=60)
        trained |= pixels(rows(files['train']) + rows(files['grounding_train']))
        held_out |= pixels(rows(files['test']) + rows(files['grounding_test']))
    assert len(held_out) > 60 and len(trained) > 400
    assert not trained & held_out


def test_box_training_pictures_are_drawn_evenly_over_the_distinct_pictures(tmp_path):
    # 9, 36 and 84 distinct pictures show 1, 2 and 3 shapes: training draws each picture alike (two thirds with 3
    # shapes, where the models missed most); the held-out pictures keep one count in three
    files = make_dataset(tmp_path, train=0, test=0, size=48, text_only=0, grounding=600, grounding_test=90)
    trained, held_out = ([len(json.loads(line)['objects']['bbox']) for line in files[name].read_text().splitlines()]
                         for name in ('grounding_train', 'grounding_test'))
    assert 0.55 < trained.count(3) / len(trained) < 0.75 and trained.count(1) < len(trained) / 10
    assert all(15 < held_out.count(k) < 45 for k in (1, 2, 3))


def test_box_training_pictures_can_be_drawn_one_count_in_three_and_stay_off_the_held_out_ones(tmp_path):
    # make demo-rl's GRPO rows: drawn as the held-out pictures are, so its missed rows hold single shapes too
    files = make_dataset(tmp_path, train=0, test=0, size=48, text_only=0, grounding=600, grounding_test=90,
                         grounding_even_counts=True)
    rows = {name: [json.loads(line) for line in files[name].read_text().splitlines()]
            for name in ('grounding_train', 'grounding_test')}
    counts = [len(row['objects']['bbox']) for row in rows['grounding_train']]
    assert all(150 < counts.count(k) < 250 for k in (1, 2, 3))
    pictures = {name: {pixel_digest(row['images'][0]) for row in split} for name, split in rows.items()}
    assert not pictures['grounding_train'] & pictures['grounding_test']
