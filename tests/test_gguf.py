"""The GGUF export (tools/export_gguf.py) against transformers: mtmd's prompt ids, greedy tokens, the chat API."""
import copy
import json
import shutil

import pytest
import torch
from PIL import Image

from conftest import EXPECTED_BOX, REPO, ref_text, run_tool, train_box_model, with_distinct_head

llama_cpp = pytest.importorskip('llama_cpp', reason='llama-cpp-python is not installed (make venv builds it)')

from qwen3_smvl.export.gguf import ExportError, export, file_names
from qwen3_smvl.tokens import (
    FAKE_IMAGE_TOKEN,
    GLOBAL_IMAGE_TOKEN,
    IMAGE_TOKEN,
    SMOLVLM_FAKE_IMAGE_TOKEN,
    SMOLVLM_GLOBAL_IMAGE_TOKEN,
    token_id,
)

DEMO_MODEL = REPO / 'runs' / 'demo' / 'stage2' / 'last-checkpoint'
QUESTION = '图中有什么？'
PROMPTS = [  # five pictures and questions: square, wide, tall, smaller than a tile, Chinese and English
    (('red', (64, 64)), '图中有什么？'), (('blue', (96, 48)), '这是什么颜色？'), (('green', (48, 80)), '描述这张图片。'),
    (('white', (24, 20)), '图中有几个圆形？'), (('black', (200, 120)), 'What is in the picture?')]


def picture(colour, size) -> Image.Image:
    image = Image.new('RGB', size, colour)
    image.paste('yellow', (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))  # something to see
    return image


def hf_inputs(processor, images, question, **template_kwargs):
    """The processor's ids and tiles for one user turn (default: thinking off)."""
    content = [{'type': 'image'} for _ in images] + [{'type': 'text', 'text': question}]
    prompt = processor.apply_chat_template([{'role': 'user', 'content': content}], add_generation_prompt=True,
                                           **({'enable_thinking': False} | template_kwargs))
    return processor(text=prompt, images=images, return_tensors='pt')


def transformers_greedy(model, inputs, eos, max_new_tokens):
    with torch.no_grad():
        out = model.generate(**inputs, do_sample=False, max_new_tokens=max_new_tokens)
    tokens = out[0, inputs['input_ids'].shape[1]:].tolist()
    ends = [i for i, t in enumerate(tokens) if t in eos]
    return tokens[:ends[0]] if ends else tokens


def end_tokens(model_dir):
    eos = json.loads((model_dir / 'generation_config.json').read_text())['eos_token_id']
    return set(eos if isinstance(eos, list) else [eos])


@pytest.fixture(scope='module')
def vocab_splice(tmp_path_factory):
    """A tiny splice with Qwen3's genuine tokenizer: mtmd looks up '\\n\\n' as one token, which the tiny BPE lacks."""
    from qwen3_smvl.splice.donors import make_splice
    return make_splice('tiny-vocab', tmp_path_factory.mktemp('vocab'))


@pytest.fixture(scope='module')
def distinct_head_model(vocab_splice, tmp_path_factory):
    return with_distinct_head(vocab_splice, tmp_path_factory.mktemp('vocab_distinct_head') / 'model')


@pytest.fixture(scope='module')
def exported(distinct_head_model, tmp_path_factory):
    out = tmp_path_factory.mktemp('gguf') / 'model'
    export(distinct_head_model, out, types=['f16', 'q8_0'])
    return distinct_head_model, out


@pytest.fixture(scope='module')
def transformers_side(exported):
    from transformers import AutoModelForImageTextToText, AutoProcessor
    model_dir = exported[0]
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32).eval()
    return model, AutoProcessor.from_pretrained(model_dir)


@pytest.fixture(scope='module')
def runner(exported):
    from qwen3_smvl.export.gguf_runtime import GgufVLM
    return GgufVLM(exported[1], 'f16')


def test_folder_holds_the_files_llama_cpp_and_ollama_load(exported, transformers_side):
    model_dir, out = exported
    tokenizer = transformers_side[1].tokenizer
    names = {*file_names('qwen3-smvl', 'f16').values(), file_names('qwen3-smvl', 'q8_0')['model'], 'Modelfile'}
    assert {p.name for p in out.iterdir()} == names
    assert not list(out.parent.glob('.model.partial-*'))  # the atomic write left nothing behind
    llm = llama_cpp.Llama(str(out / 'qwen3-smvl-f16.gguf'), vocab_only=True, verbose=False)
    vocab = llm._model  # valid while llm lives
    # mtmd's strings at the ids of the splice's tokens for those roles; the image token and the rest unchanged
    assert vocab.token_get_text(token_id(tokenizer, FAKE_IMAGE_TOKEN)) == SMOLVLM_FAKE_IMAGE_TOKEN
    assert vocab.token_get_text(token_id(tokenizer, GLOBAL_IMAGE_TOKEN)) == SMOLVLM_GLOBAL_IMAGE_TOKEN
    assert vocab.token_get_text(token_id(tokenizer, IMAGE_TOKEN)) == IMAGE_TOKEN
    modelfile = (out / 'Modelfile').read_text()
    assert 'FROM ./qwen3-smvl-f16.gguf\nFROM ./mmproj-qwen3-smvl-f16.gguf\n' in modelfile
    stops = tokenizer.convert_ids_to_tokens(sorted(end_tokens(model_dir)))
    assert sorted(line.split('"')[1] for line in modelfile.splitlines() if line.startswith('PARAMETER stop')) == \
        sorted(stops)


@pytest.mark.parametrize('size', [(64, 64), (96, 48), (48, 80), (200, 120), (24, 20)])
def test_mtmd_prompt_is_the_processors_token_for_token(runner, transformers_side, size):
    """Split images (every picture, with SmolVLM2's resize to the longest edge): mtmd's ids are transformers'."""
    processor = transformers_side[1]
    images = [picture('red', size)]
    expected = hf_inputs(processor, images, QUESTION)['input_ids'][0].tolist()
    assert token_id(processor.tokenizer, GLOBAL_IMAGE_TOKEN) in expected  # tiles and a global view
    assert runner.prompt_ids(images, QUESTION) == expected


def test_llama_cpp_answers_as_transformers_token_for_token(exported, runner, transformers_side):
    """Greedy tokens at f16 equal transformers' float32 tokens on five pictures; q8_0 reported, not asserted."""
    from qwen3_smvl.export.gguf_runtime import GgufVLM
    model_dir, out = exported
    model, processor = transformers_side
    eos = end_tokens(model_dir)
    q8 = GgufVLM(out, 'q8_0')
    agree = 0
    for (colour, size), question in PROMPTS:
        images = [picture(colour, size)]
        expected = transformers_greedy(model, hf_inputs(processor, images, question), eos, max_new_tokens=12)
        assert len(expected) >= 4  # the head is random: answers are tokens, not sentences, but long enough to check
        assert runner.generate(images, question, 12, stop_tokens=eos) == expected, (colour, size, question)
        agree += q8.generate(images, question, 12, stop_tokens=eos) == expected
    print(f'q8_0 answers equal to transformers: {agree} of {len(PROMPTS)}')


def test_a_different_picture_changes_the_logits(runner):
    red, blue = (runner.prefill([picture(c, (64, 64))], QUESTION) for c in ('red', 'blue'))
    assert abs(red - blue).max() > 1e-2


def test_an_image_that_training_would_not_split_is_upscaled_and_tiled(runner, transformers_side):
    """A 24x20 picture, smaller than one tile: the recipes (SMVL_UPSCALE=false) keep it at its size, one tile, no
    global view; mtmd always resizes to the longest edge and tiles, as SmolVLM2's processor does by default. The
    GGUF's prompt is SmolVLM2's, not the recipes': stated here, and in docs/gguf.md."""
    from qwen3_smvl.images import fit_within
    processor = transformers_side[1]
    image = picture('red', (24, 20))
    tokenizer = processor.tokenizer
    recipes = copy.deepcopy(processor)  # the recipes' default: shrink to the longest edge, never upscale
    recipes.image_processor.do_resize = False
    longest = processor.image_processor.size['longest_edge']
    as_trained = hf_inputs(recipes, [fit_within(image, longest)], QUESTION)['input_ids'][0].tolist()
    fake, global_, pad = (token_id(tokenizer, t) for t in (FAKE_IMAGE_TOKEN, GLOBAL_IMAGE_TOKEN, IMAGE_TOKEN))
    single = [fake, global_] + [pad] * processor.image_seq_len + [fake]  # the single-image form: no tiles
    assert as_trained.count(pad) == processor.image_seq_len and str(single)[1:-1] in str(as_trained)
    mtmd = runner.prompt_ids([image], QUESTION)
    assert mtmd == hf_inputs(processor, [image], QUESTION)['input_ids'][0].tolist()  # SmolVLM2's resize
    assert mtmd.count(pad) > processor.image_seq_len
    print(f'a 24x20 picture: {len(as_trained)} prompt tokens as the recipes encode it, {len(mtmd)} through mtmd')


def test_a_processor_that_never_splits_is_refused(distinct_head_model, tmp_path):
    model = tmp_path / 'model'
    shutil.copytree(distinct_head_model, model)
    config = json.loads((model / 'processor_config.json').read_text())
    config['image_processor']['do_image_splitting'] = False
    (model / 'processor_config.json').write_text(json.dumps(config))
    with pytest.raises(ExportError, match='never splits images'):
        export(model, tmp_path / 'out')
    assert not (tmp_path / 'out').exists()


def test_bad_input_is_refused_before_any_work(tiny_donors, tiny_splice, exported, tmp_path):
    with pytest.raises(ExportError, match="model_type 'qwen3'.*expected a splice"):
        export(tiny_donors / 'llm', tmp_path / 'out')
    with pytest.raises(ExportError, match='no config.json'):
        export(tmp_path, tmp_path / 'out')
    with pytest.raises(ExportError, match='exists'):
        export(exported[0], exported[1])
    with pytest.raises(ExportError, match=r"encodes '\\n\\n' as 2 tokens"):  # the tiny BPE: no one token for it
        export(tiny_splice, tmp_path / 'out')
    with pytest.raises(ExportError, match='unknown GGUF type'):
        export(exported[0], tmp_path / 'out', types=['q2_k'])
    res = run_tool('tools/export_gguf.py', '--model', tiny_donors / 'llm', '--out', tmp_path / 'out', check=False)
    assert res.returncode == 2 and 'expected a splice' in res.stderr
    assert not (tmp_path / 'out').exists()


@pytest.mark.slow
def test_trained_model_answers_through_the_chat_api(vocab_splice, tmp_path):
    """The model trained in-process, as q8_0 through llama-cpp-python's MTMDChatHandler (an image data URL, the
    GGUF's chat template): the answer transformers gives, with its box."""
    from llama_cpp.llama_chat_format import MTMDChatHandler
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from qwen3_smvl.export.gguf_runtime import data_url
    model_dir, image_file = train_box_model(vocab_splice, tmp_path)
    export(model_dir, tmp_path / 'gguf', types=['q8_0'])
    image, question = Image.open(image_file).convert('RGB'), '框出' + ref_text('红色圆形')
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32).eval()
    processor = AutoProcessor.from_pretrained(model_dir)
    # the handler renders the chat template with no enable_thinking (create_chat_completion has no such argument)
    inputs = hf_inputs(processor, [image], question, enable_thinking=None)
    expected = transformers_greedy(model, inputs, end_tokens(model_dir), 64)
    names = file_names('qwen3-smvl', 'q8_0')
    llm = llama_cpp.Llama(str(tmp_path / 'gguf' / names['model']), n_ctx=4096, verbose=False,
                          chat_handler=MTMDChatHandler(clip_model_path=str(tmp_path / 'gguf' / names['mmproj']),
                                                       verbose=False))
    reply = llm.create_chat_completion(messages=[{'role': 'user', 'content': [
        {'type': 'image_url', 'image_url': {'url': data_url(image)}}, {'type': 'text', 'text': question}]}],
        temperature=0, repeat_penalty=1.0, max_tokens=64)
    answer = reply['choices'][0]['message']['content']  # the handler's text leaves out special tokens
    print(f'transformers: {processor.tokenizer.decode(expected)!r}; llama.cpp q8_0: {answer!r}')
    assert EXPECTED_BOX in processor.tokenizer.decode(expected)  # the trained answer, with its box tokens
    assert answer == processor.tokenizer.decode(expected, skip_special_tokens=True)


@pytest.mark.slow
@pytest.mark.skipif(not DEMO_MODEL.exists(), reason='no trained demo model: `make demo` trains one')
def test_trained_demo_model_answers_the_same_in_gguf(tmp_path):
    """The demo's model on five held-out questions: tools/export_gguf.py's f16 answers are transformers' answers."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from qwen3_smvl.export.gguf_runtime import GgufVLM
    if len(AutoProcessor.from_pretrained(DEMO_MODEL).tokenizer.encode('\n\n', add_special_tokens=False)) != 1:
        pytest.skip('the demo model was built on the tiny BPE vocabulary, which has no single "\\n\\n" token for '
                    'mtmd (the export refuses it, tested above): `tools/demo.py --preset tiny` made it; the default '
                    'preset exports')
    res = run_tool('tools/export_gguf.py', '--model', DEMO_MODEL, '--out', tmp_path / 'gguf')
    assert res.returncode == 0, res.stderr[-2000:]
    model = AutoModelForImageTextToText.from_pretrained(DEMO_MODEL, dtype=torch.float32).eval()
    processor = AutoProcessor.from_pretrained(DEMO_MODEL)
    runner, eos = GgufVLM(tmp_path / 'gguf'), end_tokens(DEMO_MODEL)
    rows = [json.loads(line) for line in (DEMO_MODEL.parents[1] / 'data' / 'test.jsonl').read_text().splitlines()[:5]]
    for row in rows:
        images, question = [Image.open(row['images'][0]).convert('RGB')], row['messages'][0]['content'][7:]
        expected = transformers_greedy(model, hf_inputs(processor, images, question), eos, max_new_tokens=16)
        assert runner.generate(images, question, 16, stop_tokens=eos) == expected
