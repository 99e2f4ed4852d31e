"""The ONNX export (tools/export_onnx.py) against transformers: the same greedy tokens, close first-step logits.
onnxruntime runs in a forked child (tests/native.py): a crash there fails its test, not the suite."""
import json

import pytest
import torch
from PIL import Image

from conftest import REPO, run_tool
from native import in_child
from qwen3_smvl.export.onnx_graphs import ExportError, export

DEMO_MODEL = REPO / 'runs' / 'demo' / 'stage2' / 'last-checkpoint'
PROMPTS = [  # five pictures and questions: shapes, colours, sizes, one picture that is not square
    (('red', (64, 64)), '图中有什么？'), (('blue', (64, 64)), '这是什么颜色？'), (('green', (96, 48)), '描述这张图片。'),
    (('white', (48, 80)), '图中有几个圆形？'), (('black', (200, 120)), 'What is in the picture?')]
# float32 on both sides; onnxruntime fuses ops and sums in another order, so logits differ by rounding (about 1e-6
# here), far below the gap between the two best tokens that greedy decoding depends on.
LOGITS_ATOL = 1e-4


def picture(colour, size) -> Image.Image:
    image = Image.new('RGB', size, colour)
    image.paste('yellow', (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))  # something to see
    return image


def transformers_greedy(model, inputs, eos, max_new_tokens):
    """Greedy tokens and first-step logits of transformers on the inputs OnnxVLM.encode made."""
    inputs = {k: torch.from_numpy(v) for k, v in inputs.items()}
    with torch.no_grad():
        out = model.generate(**inputs, do_sample=False, max_new_tokens=max_new_tokens)
        first = model(**inputs).logits[0, -1]
    tokens = out[0, inputs['input_ids'].shape[1]:].tolist()
    ends = [i for i, t in enumerate(tokens) if t in eos]
    return tokens[:ends[0]] if ends else tokens, first


def onnx_answers(folder, prompts, max_new_tokens, quantization=None):
    """In a child: for each (images, question), OnnxVLM's inputs, greedy tokens and first-step logits; and its eos."""
    def run():
        from qwen3_smvl.export.onnx_runtime import OnnxVLM
        runner = OnnxVLM(folder, quantization)
        return runner.eos, [(runner.encode(images, question), runner.generate(images, question, max_new_tokens),
                             runner.first_logits(images, question)) for images, question in prompts]
    return in_child(run, what=f'onnxruntime ({quantization or "fp32"})', timeout=300)  # seconds when it does not hang


@pytest.fixture(scope='module')
def exported(distinct_head_model, tmp_path_factory):
    out = tmp_path_factory.mktemp('onnx') / 'model'
    export(distinct_head_model, out, quantizations=['int8'])
    return distinct_head_model, out


def test_folder_is_self_contained_in_the_transformers_js_layout(exported):
    _, out = exported
    assert sorted(p.name for p in (out / 'onnx').iterdir()) == sorted(
        f'{g}{q}.onnx' for g in ('vision_encoder', 'embed_tokens', 'decoder_model_merged') for q in ('', '_int8'))
    for name in ('config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json',
                 'processor_config.json', 'chat_template.jinja'):
        assert (out / name).is_file(), name
    assert not list(out.parent.glob('.model.partial-*'))  # the atomic write left nothing behind


def test_onnxruntime_answers_as_transformers_token_for_token(exported):
    from transformers import AutoModelForImageTextToText
    model_dir, out = exported
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32).eval()
    prompts = [([picture(colour, size)], question) for (colour, size), question in PROMPTS]
    eos, fp32 = onnx_answers(out, prompts, 12)
    _, int8 = onnx_answers(out, prompts, 12, 'int8')
    agree = 0
    for (inputs, tokens, first_logits), (_, int8_tokens, _), prompt in zip(fp32, int8, PROMPTS):
        expected, first = transformers_greedy(model, inputs, eos, max_new_tokens=12)
        assert len(expected) >= 4  # the head is random: answers are tokens, not sentences, but long enough to check
        assert tokens == expected, prompt
        torch.testing.assert_close(torch.from_numpy(first_logits), first, atol=LOGITS_ATOL, rtol=0)
        agree += int8_tokens == expected
    print(f'int8 answers equal to fp32: {agree} of {len(PROMPTS)}')  # measured, not asserted


def test_a_different_picture_changes_the_logits(exported):
    _, answers = onnx_answers(exported[1], [([picture(c, (64, 64))], '图中有什么？') for c in ('red', 'blue')], 1)
    (_, _, red), (_, _, blue) = answers
    assert abs(red - blue).max() > 1e-2


def test_bad_input_is_refused_before_any_work(tiny_donors, exported, tmp_path):
    with pytest.raises(ExportError, match="model_type 'qwen3'.*expected a splice"):
        export(tiny_donors / 'llm', tmp_path / 'out')
    with pytest.raises(ExportError, match='no config.json'):
        export(tmp_path, tmp_path / 'out')
    with pytest.raises(ExportError, match='exists'):
        export(exported[0], exported[1])
    res = run_tool('tools/export_onnx.py', '--model', tiny_donors / 'llm', '--out', tmp_path / 'out', check=False)
    assert res.returncode == 2 and 'expected a splice' in res.stderr
    assert not (tmp_path / 'out').exists()


@pytest.mark.slow
@pytest.mark.skipif(not DEMO_MODEL.exists(), reason='no trained demo model: `make demo` trains one')
def test_trained_demo_model_answers_the_same_in_onnx(tmp_path):
    """The demo's model on five held-out questions: tools/export_onnx.py's answers are transformers' answers."""
    from transformers import AutoModelForImageTextToText
    res = run_tool('tools/export_onnx.py', '--model', DEMO_MODEL, '--out', tmp_path / 'onnx')
    assert res.returncode == 0, res.stderr[-2000:]
    model = AutoModelForImageTextToText.from_pretrained(DEMO_MODEL, dtype=torch.float32).eval()
    rows = [json.loads(line) for line in (DEMO_MODEL.parents[1] / 'data' / 'test.jsonl').read_text().splitlines()[:5]]
    prompts = [([Image.open(row['images'][0]).convert('RGB')], row['messages'][0]['content'][7:]) for row in rows]
    eos, answers = onnx_answers(tmp_path / 'onnx', prompts, 16)
    for inputs, tokens, _ in answers:
        assert tokens == transformers_greedy(model, inputs, eos, max_new_tokens=16)[0]
