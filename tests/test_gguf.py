"""The GGUF export (tools/export_gguf.py) against the model as `swift deploy` serves it: mtmd's prompt ids, greedy
tokens at f16, q8_0 and q4_k_m, llama-cpp-python's chat API and llama-server's OpenAI endpoint. Every llama.cpp call
made in this process runs in a forked child (tests/native.py): a crash there fails its test, not the suite."""
import json
import shutil

import pytest
import torch
from PIL import Image

from conftest import (
    EXPECTED_BOX,
    REPO,
    ref_text,
    run_tool,
    swift_template,
    thinking_rows,
    train_box_model,
    train_rows,
    with_distinct_head,
)
from native import in_child

llama_cpp = pytest.importorskip('llama_cpp', reason='llama-cpp-python is not installed (make venv builds it)')

from qwen3_smvl.export.gguf import ExportError, export, file_names
from qwen3_smvl.export.gguf_runtime import GgufVLM, data_url
from qwen3_smvl.export.llama_server import executable, llama_server
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
QUANTS = ['f16', 'q8_0', 'q4_k_m']
PROMPTS = [  # five pictures and questions: square, wide, tall, smaller than a tile, Chinese and English
    (('red', (64, 64)), '图中有什么？'), (('blue', (96, 48)), '这是什么颜色？'), (('green', (48, 80)), '描述这张图片。'),
    (('white', (24, 20)), '图中有几个圆形？'), (('black', (200, 120)), 'What is in the picture?')]
needs_llama_server = pytest.mark.skipif(executable() is None, reason='llama-server is not built (make venv builds it '
                                        'with tools/build_llama_cpp.sh, which needs cmake and a C++ compiler)')


def picture(colour, size) -> Image.Image:
    image = Image.new('RGB', size, colour)
    image.paste('yellow', (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))  # something to see
    return image


def served_inputs(template, images, question, thinking=False):
    """The batch `swift deploy`'s transformers backend makes of one user turn: the plugin's template, the recipes'
    default image policy, thinking off unless asked."""
    encoded = template.encode({'messages': [{'role': 'user', 'content': '<image>' * len(images) + question}],
                               'images': list(images), 'chat_template_kwargs': {'enable_thinking': thinking}})
    batch = template.data_collator([encoded])
    return {k: batch[k] for k in ('input_ids', 'attention_mask', 'pixel_values', 'pixel_attention_mask') if k in batch}


def served_greedy(model, template, images, question, eos, max_new_tokens, **kwargs):
    inputs = served_inputs(template, images, question, **kwargs)
    with torch.no_grad():
        out = model.generate(**inputs, do_sample=False, max_new_tokens=max_new_tokens)
    tokens = out[0, inputs['input_ids'].shape[1]:].tolist()
    ends = [i for i, t in enumerate(tokens) if t in eos]
    return tokens[:ends[0]] if ends else tokens


def end_tokens(model_dir):
    eos = json.loads((model_dir / 'generation_config.json').read_text())['eos_token_id']
    return set(eos if isinstance(eos, list) else [eos])


def gguf(folder, quant_type, method, *args, **kwargs):
    """GgufVLM(folder, quant_type).method(*args) in a forked child."""
    return in_child(lambda: getattr(GgufVLM(folder, quant_type), method)(*args, **kwargs),
                    what=f'llama.cpp ({quant_type}, {method})')


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
    export(distinct_head_model, out, types=QUANTS)
    return distinct_head_model, out


@pytest.fixture(scope='module')
def served_side(exported):
    """The checkpoint as served: transformers' model and the plugin's template in the deploy backend's mode."""
    from transformers import AutoModelForImageTextToText
    model_dir = exported[0]
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32).eval()
    return model, swift_template(model_dir, 'transformers')


def test_folder_holds_the_files_llama_cpp_and_ollama_load(exported, served_side):
    model_dir, out = exported
    tokenizer = served_side[1].tokenizer
    names = {*file_names('qwen3-smvl', 'f16').values(), *(file_names('qwen3-smvl', q)['model'] for q in QUANTS),
             'Modelfile'}
    assert {p.name for p in out.iterdir()} == names
    assert not list(out.parent.glob('.model.partial-*'))  # the atomic write left nothing behind
    roles = [token_id(tokenizer, t) for t in (FAKE_IMAGE_TOKEN, GLOBAL_IMAGE_TOKEN, IMAGE_TOKEN)]

    def vocabulary_texts():
        llm = llama_cpp.Llama(str(out / 'qwen3-smvl-f16.gguf'), vocab_only=True, verbose=False)
        return [llm._model.token_get_text(t) for t in roles]  # llm._model is valid while llm lives
    # mtmd's strings at the ids of the splice's tokens for those roles; the image token and the rest unchanged
    assert in_child(vocabulary_texts) == [SMOLVLM_FAKE_IMAGE_TOKEN, SMOLVLM_GLOBAL_IMAGE_TOKEN, IMAGE_TOKEN]
    modelfile = (out / 'Modelfile').read_text()
    assert 'FROM ./qwen3-smvl-f16.gguf\nFROM ./mmproj-qwen3-smvl-f16.gguf\n' in modelfile
    stops = tokenizer.convert_ids_to_tokens(sorted(end_tokens(model_dir)))
    assert sorted(line.split('"')[1] for line in modelfile.splitlines() if line.startswith('PARAMETER stop')) == \
        sorted(stops)


@pytest.mark.parametrize('size', [(64, 64), (96, 48), (48, 80), (200, 120), (24, 20)])
def test_mtmd_prompt_is_the_served_prompt_token_for_token(exported, served_side, size):
    """Every picture (square, wide, tall, larger than the longest edge, smaller than a tile): mtmd's ids are the ids
    `swift deploy` gives the model under the recipes' default image policy."""
    template = served_side[1]
    images = [picture('red', size)]
    expected = served_inputs(template, images, QUESTION)['input_ids'][0].tolist()
    assert token_id(template.tokenizer, GLOBAL_IMAGE_TOKEN) in expected  # tiles and a global view
    assert gguf(exported[1], 'f16', 'prompt_ids', images, QUESTION) == expected


@pytest.mark.parametrize('quant_type', QUANTS)
def test_llama_cpp_answers_as_served(exported, served_side, quant_type):
    """Greedy tokens on five pictures, each runtime to the end in a child process: f16 equals the served float32
    model token for token; q8_0 and q4_k_m answer every question (their agreement is printed)."""
    model_dir, out = exported
    model, template = served_side
    eos = end_tokens(model_dir)
    expected = []
    for (colour, size), question in PROMPTS:
        expected.append(served_greedy(model, template, [picture(colour, size)], question, eos, max_new_tokens=12))
        assert len(expected[-1]) >= 4  # a random head: tokens, not sentences, but long enough to compare

    def answers():
        runner = GgufVLM(out, quant_type)
        return [runner.generate([picture(colour, size)], question, 12, stop_tokens=eos)
                for (colour, size), question in PROMPTS]
    got = in_child(answers, what=f'llama.cpp ({quant_type})')
    agree = sum(g == e for g, e in zip(got, expected))
    print(f'{quant_type} answers equal to the served model\'s: {agree} of {len(PROMPTS)}')
    assert len(got) == len(PROMPTS) and all(len(g) >= 1 for g in got)
    if quant_type == 'f16':
        assert got == expected


def test_a_different_picture_changes_the_logits(exported):
    def logits_gap():
        runner = GgufVLM(exported[1], 'f16')
        red, blue = (runner.prefill([picture(c, (64, 64))], QUESTION) for c in ('red', 'blue'))
        return float(abs(red - blue).max())
    assert in_child(logits_gap) > 1e-2


def test_export_warns_when_training_did_not_upscale(distinct_head_model, tmp_path, monkeypatch, caplog):
    """SMVL_UPSCALE=false (fewer tokens for small pictures) is a policy mtmd cannot follow: the export says so."""
    monkeypatch.setenv('SMVL_UPSCALE', 'false')
    export(distinct_head_model, tmp_path / 'out', types=['f16'])
    assert 'SMVL_UPSCALE=false' in caplog.text and 'llama.cpp' in caplog.text


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


@pytest.fixture(scope='module')
def box_model(vocab_splice, tmp_path_factory):
    """The tiny splice trained on one grounding row, exported f16 and q4_k_m: (checkpoint, GGUF folder, picture,
    question, transformers' model)."""
    from transformers import AutoModelForImageTextToText
    work = tmp_path_factory.mktemp('box_gguf')
    model_dir, image_file = train_box_model(vocab_splice, work)
    export(model_dir, work / 'gguf', types=['f16', 'q4_k_m'])
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32).eval()
    return model_dir, work / 'gguf', Image.open(image_file).convert('RGB'), '框出' + ref_text('红色圆形'), model


@pytest.mark.slow
def test_trained_model_answers_through_llama_cpp_pythons_chat_api(box_model):
    """llama-cpp-python's MTMDChatHandler (an image data URL, the GGUF's chat template), q4_k_m: the answer of the
    served model to the same prompt (the handler takes no enable_thinking, so neither side sets it), with its box."""
    from transformers import AutoProcessor
    model_dir, folder, image, question, model = box_model
    processor = AutoProcessor.from_pretrained(model_dir)  # the default image policy is the processor's own
    prompt = processor.apply_chat_template([{'role': 'user', 'content': [
        {'type': 'image'}, {'type': 'text', 'text': question}]}], add_generation_prompt=True)
    inputs = processor(text=prompt, images=[image], return_tensors='pt')
    with torch.no_grad():
        out = model.generate(**inputs, do_sample=False, max_new_tokens=64)[0, inputs['input_ids'].shape[1]:].tolist()
    tokens = out[:min([i for i, t in enumerate(out) if t in end_tokens(model_dir)] + [len(out)])]
    expected = processor.tokenizer.decode(tokens)
    assert EXPECTED_BOX in expected  # the trained answer, with its box tokens

    def chat():
        from llama_cpp.llama_chat_format import MTMDChatHandler
        names = file_names('qwen3-smvl', 'q4_k_m')
        llm = llama_cpp.Llama(str(folder / names['model']), n_ctx=4096, verbose=False,
                              chat_handler=MTMDChatHandler(clip_model_path=str(folder / names['mmproj']),
                                                           verbose=False))
        reply = llm.create_chat_completion(messages=[{'role': 'user', 'content': [
            {'type': 'image_url', 'image_url': {'url': data_url(image)}}, {'type': 'text', 'text': question}]}],
            temperature=0, repeat_penalty=1.0, max_tokens=64)
        return reply['choices'][0]['message']['content']
    answer = in_child(chat, what='llama-cpp-python (q4_k_m)')
    print(f'transformers: {expected!r}; llama-cpp-python q4_k_m: {answer!r}')
    assert answer == expected


@pytest.mark.slow
@needs_llama_server
@pytest.mark.parametrize('quant_type, repack', [('f16', None), ('q4_k_m', None), ('q4_k_m', False)])
def test_llama_server_answers_a_picture_as_served(box_model, tmp_path, quant_type, repack):
    """llama.cpp's own OpenAI server with the flags docs/gguf.md gives users (thinking off, as the recipes serve):
    `content` is the answer `swift deploy`'s model gives, its ref and box tokens included (the export marks them as
    text in the GGUF's vocabulary, where llama.cpp's converter made them control tokens, which replies leave out)."""
    from qwen3_smvl.client import chat, post
    model_dir, folder, image, question, model = box_model
    template = swift_template(model_dir, 'transformers')
    tokens = served_greedy(model, template, [image], question, end_tokens(model_dir), 64)
    assert EXPECTED_BOX in template.tokenizer.decode(tokens)
    with llama_server(folder, tmp_path / 'llama-server.log', quant_type, repack=repack) as base:  # False: AMX's flag
        status, text = post(base, chat([data_url(image)], question, max_tokens=64, repeat_penalty=1.0))
    assert status == 200, text
    message = json.loads(text)['choices'][0]['message']
    print(f'served: {template.tokenizer.decode(tokens)!r}; llama-server {quant_type}: {message!r}')
    assert message['content'] == template.tokenizer.decode(tokens)  # the ref and box tokens too, as swift deploy sends


@pytest.mark.slow
@needs_llama_server
def test_llama_server_puts_thinking_in_reasoning_content(vocab_splice, tmp_path):
    """llama-server with docs/gguf.md's flags answers as `swift deploy` does (tests/test_openai_client.py): thinking
    off (its default, as the recipes serve) gives the answer alone in `content`; a request's
    chat_template_kwargs turning it on gives the thinking in `reasoning_content` (its default --reasoning-format)."""
    from qwen3_smvl.client import chat, post
    rows, image = thinking_rows(tmp_path)
    export(train_rows(vocab_splice, tmp_path, rows, target_loss=0.05), tmp_path / 'gguf', types=['f16'])
    request = chat([data_url(image)], '图中有几个三角形？', max_tokens=24, repeat_penalty=1.0)
    messages = {}
    with llama_server(tmp_path / 'gguf', tmp_path / 'llama-server.log') as base:
        for thinking in (None, True, False):
            extra = {} if thinking is None else {'chat_template_kwargs': {'enable_thinking': thinking}}
            status, text = post(base, {**request, **extra})
            assert status == 200, text
            messages[thinking] = json.loads(text)['choices'][0]['message']
    print(messages)
    assert messages[None]['content'] == messages[False]['content'] == '三个'
    assert not messages[None].get('reasoning_content') and not messages[False].get('reasoning_content')
    assert (messages[True]['reasoning_content'].strip(), messages[True]['content'].strip()) == ('数一数', '三个')


@pytest.mark.slow
@needs_llama_server
@pytest.mark.skipif(not DEMO_MODEL.exists(), reason='no trained demo model: `make demo` trains one')
def test_trained_demo_model_answers_through_llama_server_as_served(tmp_path):
    """The demo's model, exported by tools/export_gguf.py, on the first eight held-out questions: llama-server
    (f16) against `swift deploy` (transformers backend), both through the OpenAI API; at least 7 of 8 equal."""
    from qwen3_smvl.client import chat, post
    from qwen3_smvl.serve.deploy import served
    res = run_tool('tools/export_gguf.py', '--model', DEMO_MODEL, '--out', tmp_path / 'gguf')
    assert res.returncode == 0, res.stderr[-2000:]
    rows = [json.loads(line) for line in (DEMO_MODEL.parents[1] / 'data' / 'test.jsonl').read_text().splitlines()[:8]]
    requests = [chat([data_url(Image.open(row['images'][0]))], row['messages'][0]['content'].replace('<image>', ''),
                     max_tokens=32) for row in rows]
    replies = {}
    for name, server in (('swift deploy', lambda: served(DEMO_MODEL, tmp_path / 'deploy.log')),
                         ('llama-server', lambda: llama_server(tmp_path / 'gguf', tmp_path / 'llama.log'))):
        with server() as base:
            replies[name] = [json.loads(post(base, request)[1])['choices'][0]['message']['content']
                             for request in requests]
    same = sum(a == b for a, b in zip(*replies.values()))
    print(f'llama-server f16 equal to swift deploy on {same} of 8: {replies}')
    assert same >= 7
