"""Boxes in Qwen's format: parse -> pixels -> IoU, drawing, the synthetic grounding task, and boxes served intact."""
import json
import random

import pytest
from PIL import Image

from conftest import EXPECTED_BOX, REPO, box_text, ref_text, run_tool
from qwen3_smvl.grounding import Box, boxes_match, iou, parse, render
from qwen3_smvl.tokens import BOX_END, BOX_START, OBJECT_REF_START


def test_round_trip_on_generated_boxes():
    """Random pixel boxes -> thousandths text (as the template writes it) -> parse -> pixels: within rounding."""
    rng = random.Random(0)
    for _ in range(200):
        width, height = rng.randint(20, 2000), rng.randint(20, 2000)
        x1, x2 = sorted(rng.uniform(0, width) for _ in range(2))
        y1, y2 = sorted(rng.uniform(0, height) for _ in range(2))
        norm = [round(v * 1000) for v in (x1 / width, y1 / height, x2 / width, y2 / height)]
        parsed = parse('好的，' + ref_text('猫') + box_text(*norm) + '。')
        assert parsed.problems == [] and [b.ref for b in parsed.boxes] == ['猫']
        back = parsed.boxes[0].to_pixels(width, height)
        assert all(abs(a - b) <= max(width, height) / 1000 for a, b in zip(back, (x1, y1, x2, y2)))
        if x2 - x1 > 5 and y2 - y1 > 5:
            assert iou(back, (x1, y1, x2, y2)) > 0.8


def test_several_boxes_per_ref_and_a_missing_ref():
    text = box_text(0, 0, 10, 10) + ref_text('三角形') + box_text(100, 100, 200, 200) + box_text(300, 300, 400, 400)
    assert parse(text).boxes == [Box(None, 0, 0, 10, 10), Box('三角形', 100, 100, 200, 200),
                                 Box('三角形', 300, 300, 400, 400)]


@pytest.mark.parametrize('text,boxes,problem', [
    (box_text(-20, 50, 1200, 900), [Box(None, 0, 50, 1000, 900)], 'clipped to 0-1000'),
    (box_text(300, 400, 100, 200), [Box(None, 100, 200, 300, 400)], None),  # corners given in the other order
    (f'{BOX_START}(1,2),(3){BOX_END}' + box_text(1, 2, 3, 4), [Box(None, 1, 2, 3, 4)], 'malformed box'),
    (f'{BOX_START}[1, 2, 3, 4]{BOX_END}', [], 'malformed box'),
    (f'{ref_text("猫")}{BOX_START}(1,2),(3,4', [], 'malformed box'),  # cut off by max_tokens
    (f'{OBJECT_REF_START}猫', [], 'unclosed ref'),
    ('no boxes at all', [], None),
    ('', [], None),
    (None, [], None),
])
def test_malformed_answers_are_reported_never_raised(text, boxes, problem):
    parsed = parse(text)
    assert parsed.boxes == boxes
    assert (problem is None and parsed.problems == []) or any(problem in p for p in parsed.problems)


def test_iou_and_one_to_one_matching():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0 and iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0
    truth = [(0, 0, 10, 10), (20, 0, 30, 10)]
    assert boxes_match([(21, 0, 31, 10), (1, 0, 11, 10)], truth)  # any order
    assert not boxes_match([(1, 0, 11, 10), (1, 0, 11, 10)], truth)  # one box twice does not cover both
    assert not boxes_match([(1, 0, 11, 10)], truth) and not boxes_match(truth + truth, truth)  # counts must agree
    assert not boxes_match([(0, 0, 10, 10), (26, 0, 36, 10)], truth)  # IoU 0.25 < 0.5


def test_render_fills_refs_as_the_template_does():
    assert render('框出<ref-object>和<ref-object>', {'ref': ['猫', '狗']}) == f'框出{ref_text("猫")}和{ref_text("狗")}'
    with pytest.raises(ValueError, match='more <ref-object> tags'):
        render('<ref-object><ref-object>', {'ref': ['猫']})


def test_draw_boxes_cli_draws_the_box_where_it_belongs(tmp_path):
    image = tmp_path / 'white.png'
    Image.new('RGB', (200, 100), 'white').save(image)
    out = tmp_path / 'boxes.png'
    res = run_tool('tools/draw_boxes.py', image, ref_text('红色圆形') + box_text(100, 200, 500, 800), '--out', out)
    assert 'pixels 20, 20, 100, 80' in res.stdout
    drawn = Image.open(out).convert('RGB')
    assert drawn.getpixel((60, 80)) == (255, 0, 0) and drawn.getpixel((20, 50)) == (255, 0, 0)  # the outline
    assert drawn.getpixel((60, 50)) == (255, 255, 255)  # inside stays
    res = run_tool('tools/draw_boxes.py', image, '没有框', '--out', tmp_path / 'none.png', check=False)
    assert res.returncode == 1 and 'no <|box_start|>' in res.stderr


def test_labels_use_a_chinese_font(tmp_path):
    from PIL import ImageFont

    from qwen3_smvl.draw import cjk_font_file
    font_file = cjk_font_file()
    if font_file is None:
        pytest.skip('no Chinese font installed (Debian: apt-get install fonts-wqy-microhei; .ci/run does)')
    font = ImageFont.truetype(font_file, 20)
    # a font without the glyphs draws every CJK character as the same missing-glyph box
    assert bytes(font.getmask('红')) != bytes(font.getmask('圆'))


def test_grounding_rows_box_every_shape(tmp_path):
    from qwen3_smvl.datasets.synthetic import make_dataset
    files = make_dataset(tmp_path, train=4, test=2, size=64, text_only=0, grounding=30, grounding_test=5)
    rows = [json.loads(line) for line in files['grounding_train'].read_text().splitlines()]
    assert len(rows) == 30 and len(files['grounding_test'].read_text().splitlines()) == 5
    questions = set()
    for row in rows:
        user, answer = row['messages'][0]['content'], row['messages'][1]['content']
        questions.add(user.split('<ref-object>')[0])
        assert user.count('<ref-object>') == answer.count('<ref-object>') == 1
        assert answer.count('<bbox>') == len(row['objects']['bbox']) >= 1 and len(row['objects']['ref']) == 2
        image = Image.open(row['images'][0]).convert('RGB')
        for x1, y1, x2, y2 in row['objects']['bbox']:
            centre = image.getpixel(((x1 + x2) // 2, (y1 + y2) // 2 + 2))
            assert centre != (255, 255, 255)  # a shape is drawn inside every box
    assert len(questions) >= 4  # several phrasings


def test_swift_decodes_the_box_tokens(box_model):
    from qwen3_smvl.evaluate.accuracy import generate
    model, image = box_model
    row = {'messages': [{'role': 'user', 'content': '<image>框出<ref-object>'}, {'role': 'assistant', 'content': ''}],
           'objects': {'ref': ['红色圆形']}, 'images': [str(image)]}
    assert generate(model, [row], max_new_tokens=64) == [EXPECTED_BOX]


def test_answers_come_back_in_the_rows_order(box_model, tmp_path):
    """generate() batches rows by their answer's length: the answers still come back row by row, whatever the order."""
    from qwen3_smvl.evaluate.accuracy import generate
    rows = []
    for colour, question, answer in (('red', '图中是什么颜色？', '红色的圆形在图片的中间'),
                                     ('blue', '框出<ref-object>', '<ref-object><bbox>'), ('green', '这是什么形状？', '圆')):
        Image.new('RGB', (64, 48), colour).save(tmp_path / f'{colour}.png')
        rows.append({'messages': [{'role': 'user', 'content': '<image>' + question},
                                  {'role': 'assistant', 'content': answer}],
                     'objects': {'ref': ['圆形'], 'bbox': [[8, 12, 24, 36]]}, 'images': [str(tmp_path / f'{colour}.png')]})
    answers = generate(box_model[0], rows, max_new_tokens=64)
    assert len(set(answers)) > 1  # the box question gets a box, the others not: an order to get wrong
    assert generate(box_model[0], rows[::-1], max_new_tokens=64) == answers[::-1]


@pytest.mark.slow
@pytest.mark.parametrize('backend', ['transformers', pytest.param('vllm', marks=pytest.mark.skipif(
    not (REPO / '.venv-vllm' / 'bin' / 'python').exists(), reason='no .venv-vllm (make vllm-venv builds it)'))])
def test_served_answer_keeps_its_box(box_model, tmp_path, backend):
    """The box tokens come back through the OpenAI API, and eval/grounding.py scores them against the truth."""
    from qwen3_smvl.client import chat, post
    from qwen3_smvl.serve.deploy import served
    model, image = box_model
    rows = [{'messages': [{'role': 'user', 'content': '<image>框出<ref-object>'},
                          {'role': 'assistant', 'content': '<ref-object><bbox>'}],
             'objects': {'ref': ['红色圆形', '红色圆形'], 'bbox': [box]}, 'images': [str(image)]}
            for box in ([8, 12, 24, 36], [9, 13, 25, 37], [30, 12, 46, 36])]  # the same box, nearly, elsewhere
    rows.append(dict(rows[0], objects={'ref': ['红色圆形'], 'bbox': [[.125, .25, .375, .75]], 'bbox_type': 'norm1'}))
    data = tmp_path / 'boxes.jsonl'
    data.write_text(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in rows))
    with served(model, tmp_path / 'deploy.log', BACKEND=backend, ALLOWED_LOCAL_MEDIA_PATH=image.parent) as base:
        status, text = post(base, chat([str(image)], text='框出' + ref_text('红色圆形'), max_tokens=64))
        scored = run_tool('eval/grounding.py', '--api-url', base, '--datasets', data, '--work-dir', tmp_path / 'eval',
                          check=False)
    assert status == 200, text
    answer = json.loads(text)['choices'][0]['message']['content']
    assert answer.split('</think>')[-1].strip() == EXPECTED_BOX
    assert [(b.ref, b.x1, b.y1, b.x2, b.y2) for b in parse(answer).boxes] == [('红色圆形', 125, 250, 375, 750)]
    assert scored.returncode == 0, scored.stdout[-2000:] + scored.stderr[-3000:]
    assert f'| {data} | 4 | 75.0% |' in scored.stdout and '| overall | 4 | 75.0% |' in scored.stdout
    results = [json.loads(line) for line in (tmp_path / 'eval' / 'results.jsonl').read_text().splitlines()]
    assert [r['hit'] for r in results] == [True, True, False, True]


def test_sample_answers_ask_grounding_questions_with_their_refs(tmp_path):
    from qwen3_smvl.train.sample_answers import load_sample_rows
    rows = [{'messages': [{'role': 'user', 'content': '<image>框出<ref-object>'},
                          {'role': 'assistant', 'content': '<ref-object><bbox>'}],
             'objects': {'ref': ['猫', '猫'], 'bbox': [[1, 2, 3, 4]]}, 'images': ['a.png']},
            {'messages': [{'role': 'user', 'content': '<image><bbox>是什么'}, {'role': 'assistant', 'content': '猫'}],
             'objects': {'ref': ['猫'], 'bbox': [[1, 2, 3, 4]]}, 'images': ['a.png']}]
    path = tmp_path / 'rows.jsonl'
    path.write_text(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in rows))
    samples = load_sample_rows(str(path), 4)
    assert [s['question'] for s in samples] == ['<image>框出' + ref_text('猫')]  # a box in a question: not asked
