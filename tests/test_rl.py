"""Stage 3 (recipes/stage3.sh, swift rlhf): the rewards on hand-written completions, the template's rlhf mode
against its train mode, GRPO and DPO runs on the tiny splice that train exactly what the flags say, and rows the
rewards could not score refused by name."""
import json

import pytest
import torch

from conftest import EXPECTED_BOX, REPO, box_text, ref_text, swift_template, train_box_model
from qwen3_smvl.rl.rewards import SolutionError, answer_match, box_format, box_iou, box_match, normalise, think_format
from test_recipes import run_recipe, trainable
from test_splice import tensors

TRUTH = ref_text('红色圆形') + box_text(100, 100, 300, 500)
TWO = ref_text('三角形') + box_text(0, 0, 100, 100) + box_text(500, 500, 700, 900)


@pytest.mark.parametrize('completion, solution, expected', [
    (TRUTH, TRUTH, 1.0),
    ('<think>\n\n</think>\n\n' + TRUTH, TRUTH, 1.0),  # the empty thinking block is not the answer
    (ref_text('红色圆形') + box_text(100, 100, 300, 300), TRUTH, 0.5),  # half the box: IoU 0.5
    (box_text(300, 100, 500, 500), TRUTH, 0.0),  # beside it
    ('图中有一个红色圆形。', TRUTH, 0.0),  # no box
    (ref_text('红色圆形') + '<|box_start|>(100,100),(300', TRUTH, 0.0),  # cut off
    (ref_text('三角形') + box_text(500, 500, 700, 900) + box_text(0, 0, 100, 100), TWO, 1.0),  # any order
    (ref_text('三角形') + box_text(0, 0, 100, 100), TWO, 0.5),  # one of two found
    (ref_text('三角形') + box_text(0, 0, 100, 100) * 2, ref_text('三角形') + box_text(0, 0, 100, 100), 0.5),  # extra
])
def test_box_iou(completion, solution, expected):
    assert box_iou(completion, solution) == pytest.approx(expected)


@pytest.mark.parametrize('completion, solution, expected', [
    (TRUTH, TRUTH, 1.0),
    (ref_text('红色圆形') + box_text(100, 100, 300, 300), TRUTH, 1.0),  # IoU 0.5: counted right, as Acc@IoU0.5 does
    (ref_text('红色圆形') + box_text(100, 100, 300, 290), TRUTH, 0.0),  # IoU 0.475
    (ref_text('三角形') + box_text(500, 500, 700, 900) + box_text(0, 0, 100, 100), TWO, 1.0),  # any order
    (ref_text('三角形') + box_text(0, 0, 100, 100), TWO, 0.0),  # one of two: no partial credit
    (ref_text('三角形') + box_text(0, 0, 100, 100) * 2, ref_text('三角形') + box_text(0, 0, 100, 100), 0.0),  # extra
    ('图中有一个红色圆形。', TRUTH, 0.0),
])
def test_box_match_scores_as_the_held_out_accuracy(completion, solution, expected):
    from qwen3_smvl.grounding import boxes_match, pixel_boxes
    assert box_match(completion, solution) == expected
    assert expected == boxes_match(pixel_boxes(completion, 1000, 1000), pixel_boxes(solution, 1000, 1000))


def test_box_format():
    assert box_format(TRUTH) == 1.0 and box_format('<think>\n\n</think>\n\n' + TWO) == 1.0
    assert box_format(box_text(1, 2, 3, 4)) == 0.0  # no label
    assert box_format(ref_text('红色圆形') + '<|box_start|>(1,2),(3<|box_end|>') == 0.0
    assert box_format('红色圆形') == 0.0


@pytest.mark.parametrize('completion, solution, expected', [
    ('三个', '三个', 1.0), ('3个', '三个', 1.0), ('两个。', '2个', 1.0), ('十二', '12', 1.0), ('二十', '20', 1.0),
    ('ＲＥＤ！', 'red', 1.0), ('红色', '蓝色', 0.0), ('<think>\n数一数\n</think>\n\n三个', '三个', 1.0),
    ('四个', '三个', 0.0), ('三个三角形', '三个', 0.0),
])
def test_answer_match(completion, solution, expected):
    assert answer_match(completion, solution) == expected, (normalise(completion), normalise(solution))


def test_think_format():
    assert think_format('<think>\n数一数\n</think>\n\n三个') == 1.0
    assert think_format('<think>\n\n</think>\n\n三个') == 0.0  # no thinking
    assert think_format('<think>\n数一数') == 0.0 and think_format('三个') == 0.0


def test_a_row_without_truth_is_refused_by_name(tiny_splice, tmp_path):
    from qwen3_smvl.rl.solutions import main
    with pytest.raises(SolutionError, match='no box'):
        box_iou(TRUTH, '红色圆形')
    data = tmp_path / 'rows.jsonl'
    rows = [{'id': 'good', 'solution': TRUTH}, {'id': 'empty', 'solution': ''}, {'id': 'words', 'solution': '红色圆形'},
            {'id': 'none'}]
    data.write_text(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in rows))
    assert main(['--reward-funcs', 'box_format', '--dataset', str(data)]) == 0  # needs no truth
    assert main(['--reward-funcs', 'answer_match', '--dataset', str(data)]) == 2
    assert main(['--reward-funcs', 'box_match', '--dataset', str(data)]) == 2
    res = run_recipe_failing(MODEL=tiny_splice, RLHF_TYPE='grpo', DATASET=data, REWARD_FUNCS='box_iou')
    assert "rows.jsonl:2 (id='empty'): no solution" in res.stderr and "(id='words'): solution holds no box" in res.stderr
    assert "(id='none'): no solution" in res.stderr and '3 rows cannot be scored by box_iou' in res.stderr
    assert 'no solution: 2, solution holds no box: 1' in res.stderr and 'Loading' not in res.stderr


def run_recipe_failing(**env):
    import subprocess

    from test_recipes import recipe_env
    res = subprocess.run(['bash', str(REPO / 'recipes' / 'stage3.sh')], cwd=REPO, capture_output=True, text=True,
                         env=recipe_env(OUTPUT_DIR=env['DATASET'].parent / 'run', **env), timeout=300)
    assert res.returncode == 2, res.stdout[-2000:] + res.stderr[-2000:]
    return res


def test_rlhf_mode_encodes_each_side_as_train_mode(tiny_splice, tmp_path):
    """A DPO row: its chosen and rejected sides encode as the same row trained on either answer."""
    from PIL import Image
    image = tmp_path / 'red.png'
    Image.new('RGB', (64, 48), 'red').save(image)
    question = [{'role': 'user', 'content': '<image>框出红色圆形'}]
    rejected = ref_text('红色圆形') + box_text(0, 0, 100, 100)
    row = {'messages': question + [{'role': 'assistant', 'content': EXPECTED_BOX}], 'images': [str(image)],
           'rejected_response': rejected}
    pair = swift_template(tiny_splice, 'rlhf').encode(json.loads(json.dumps(row)))
    train = swift_template(tiny_splice, 'train')
    for side, answer in (('chosen', EXPECTED_BOX), ('rejected', rejected)):
        alone = train.encode({'messages': question + [{'role': 'assistant', 'content': answer}],
                              'images': [str(image)]})
        assert pair[f'{side}_input_ids'] == alone['input_ids'] and pair[f'{side}_labels'] == alone['labels']
        assert torch.equal(pair[f'{side}_pixel_values'], alone['pixel_values'])
    assert pair['chosen_input_ids'] != pair['rejected_input_ids']


def test_a_grpo_rollout_trains_on_what_was_sampled_after_its_prompt(tiny_splice, tmp_path):
    """swift re-encodes a rollout (its sampled ids, after the non-thinking prefix it was prompted with) in train mode:
    the sequence must begin with the very prompt the rollout was generated from, grounding refs filled in, and the
    labels must be the sampled ids alone."""
    from PIL import Image
    from swift.rlhf_trainers.utils import get_response_prefix_ids, replace_assistant_response_with_ids
    image = tmp_path / 'red.png'
    Image.new('RGB', (64, 48), 'red').save(image)
    row = {'messages': [{'role': 'user', 'content': '<image>框出<ref-object>'}], 'images': [str(image)],
           'objects': {'ref': ['红色圆形'], 'bbox': []}}
    prompt = swift_template(tiny_splice, 'transformers').encode(json.loads(json.dumps(row)))['input_ids']
    train = swift_template(tiny_splice, 'train')
    sampled = train.tokenizer.encode(EXPECTED_BOX + '<|im_end|>', add_special_tokens=False)
    prefix = get_response_prefix_ids(train)
    assert train.tokenizer.decode(prefix) == '<think>\n\n</think>\n\n'  # Qwen3's non-thinking answer prefix
    messages = replace_assistant_response_with_ids(row['messages'] + [{'role': 'assistant', 'content': None}],
                                                   sampled, None, non_thinking_prefix_ids=prefix)
    encoded = train.encode(dict(json.loads(json.dumps(row)), messages=messages))
    assert encoded['input_ids'][:len(prompt)] == prompt
    assert '红色圆形' in train.tokenizer.decode(prompt)
    assert [t for t in encoded['labels'] if t != -100] == sampled
    assert encoded['input_ids'][len(prompt):len(prompt) + len(sampled)] == sampled


@pytest.fixture(scope='module')
def rl_rows(tiny_splice, tmp_path_factory):
    """A tiny splice that answers a box, and grounding rows for it: (model, GRPO rows, labelled rows: one it answers
    right, one whose truth is another box)."""
    work = tmp_path_factory.mktemp('rl')
    model, image = train_box_model(tiny_splice, work)
    question = [{'role': 'user', 'content': '<image>框出' + ref_text('红色圆形')}]
    grpo, labelled = work / 'grpo.jsonl', work / 'labelled.jsonl'
    grpo.write_text(json.dumps({'messages': question, 'images': [str(image)], 'solution': EXPECTED_BOX},
                               ensure_ascii=False) + '\n')
    other = ref_text('红色圆形') + box_text(600, 100, 900, 400)
    labelled.write_text(''.join(json.dumps({'id': name, 'messages': question + [{'role': 'assistant', 'content': a}],
                                            'images': [str(image)], 'solution': a}, ensure_ascii=False) + '\n'
                                for name, a in (('same', EXPECTED_BOX), ('other', other))))
    return model, grpo, labelled


def logged(output_dir):
    return [json.loads(line) for line in (output_dir / 'logging.jsonl').read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize('top_p', ['0.95', '1.0'])  # transformers' sampling; the template's draw among the top k
def test_grpo_trains_the_llm_alone_and_logs_its_rewards(rl_rows, tmp_path, top_p):
    model, grpo, _ = rl_rows
    out = tmp_path / 'grpo'
    log = run_recipe('stage3.sh', MODEL=model, DATASET=grpo, OUTPUT_DIR=out, MAX_STEPS=2, SAVE_STEPS=2, TUNER='full',
                     TOP_P=top_p,
                     BATCH_SIZE=4, NUM_GENERATIONS=4, MAX_COMPLETION_LENGTH=40,
                     REWARD_FUNCS='box_iou box_match box_format', DYNAMIC_SAMPLE='true', MAX_RESAMPLE_TIMES=1)
    names, _ = trainable(out)
    assert names and all(n.startswith(('model.text_model.', 'lm_head')) for n in names)  # FREEZE_VIT/ALIGNER true
    steps = [r for r in logged(out) if 'rewards/box_iou/mean' in r]
    assert len(steps) == 2 and all(0 <= r['rewards/box_iou/mean'] <= 1 for r in steps), log[-3000:]
    assert all(r['rewards/box_match/mean'] in [k / 4 for k in range(5)] for r in steps), steps  # 1 or 0 a rollout
    args = json.loads((out / 'args.json').read_text())
    assert (args['dynamic_sample'], args['max_resample_times']) == (True, 1)
    # the model answers this box: its rollouts, sampled as the recipe samples (TOP_K, TOP_P), mostly find it
    assert max(r['rewards/box_iou/mean'] for r in steps) > 0.5, steps
    before, after = tensors(model), tensors(out / 'last-checkpoint')
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith(('model.vision_model', 'model.connector')))


@pytest.mark.slow
def test_grpo_rows_narrowed_to_the_models_misses(rl_rows, tmp_path):
    """tools/make_preferences.py --rlhf-type grpo keeps the row the model answers wrong, as it was (its solution, no
    rejected answer), and drops the one it answers right."""
    from conftest import run_tool
    from qwen3_smvl.rl.solutions import problem
    model, _, labelled = rl_rows
    out = tmp_path / 'misses.jsonl'
    res = run_tool('tools/make_preferences.py', '--rlhf-type', 'grpo', '--model', model, '--data', labelled,
                   '--out', out)
    assert '1 right, 1 wrong' in res.stdout, res.stdout + res.stderr[-2000:]
    [row] = [json.loads(line) for line in out.read_text().splitlines()]
    assert row == json.loads(labelled.read_text().splitlines()[1])  # 'other', unchanged
    assert problem(row, ['box_match']) is None


@pytest.mark.slow
def test_preferences_from_wrong_answers_then_dpo(rl_rows, tmp_path):
    """tools/make_preferences.py keeps the row the model gets wrong (chosen: the truth, rejected: its answer), then
    DPO (LoRA) trains on it: only LoRA weights of the LLM, and the merge loads in plain transformers."""
    from transformers import AutoModelForImageTextToText

    from conftest import run_tool
    model, _, labelled = rl_rows
    prefs = tmp_path / 'prefs.jsonl'
    res = run_tool('tools/make_preferences.py', '--model', model, '--data', labelled, '--out', prefs)
    assert '1 right, 1 wrong' in res.stdout, res.stdout + res.stderr[-2000:]
    [row] = [json.loads(line) for line in prefs.read_text().splitlines()]
    assert row['id'] == 'other' and row['rejected_response'] == EXPECTED_BOX  # what the model answered
    out = tmp_path / 'dpo'
    run_recipe('stage3.sh', MODEL=model, DATASET=prefs, OUTPUT_DIR=out, RLHF_TYPE='dpo', MAX_STEPS=2, SAVE_STEPS=2,
               TUNER='lora', BATCH_SIZE=1)
    names, _ = trainable(out)
    assert names and all('lora_' in n and 'text_model' in n for n in names)
    assert sum('rewards/margins' in r for r in logged(out)) == 2
    merged = AutoModelForImageTextToText.from_pretrained(tmp_path / 'dpo-merged')
    assert merged.config.architectures == AutoModelForImageTextToText.from_pretrained(model).config.architectures
