import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from qwen3_smvl.tokens import BOX_END, BOX_START, OBJECT_REF_END, OBJECT_REF_START

# Nothing in the tests may wait on a hub.
for var in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE', 'HF_DATASETS_OFFLINE'):
    os.environ.setdefault(var, '1')

REPO = Path(__file__).resolve().parents[1]


def run_tool(*args, check=True, env=None, timeout=900):
    """Run a repo CLI with this interpreter, returning the CompletedProcess (stdout+stderr as text)."""
    return subprocess.run([sys.executable, *map(str, args)], cwd=REPO, capture_output=True, text=True, check=check,
                          env={**os.environ, **(env or {})}, timeout=timeout)


@pytest.fixture(scope='session')
def tiny_donors(tmp_path_factory) -> Path:
    from qwen3_smvl.splice.donors import make_donors
    out = tmp_path_factory.mktemp('donors')
    make_donors('tiny', out)
    return out


@pytest.fixture(scope='session')
def tiny_splice(tiny_donors, tmp_path_factory) -> Path:
    from qwen3_smvl.splice.surgery import build
    out = tmp_path_factory.mktemp('splice') / 'model'
    build(tiny_donors / 'vision', tiny_donors / 'llm', out)
    return out


@pytest.fixture
def splice_copy(tiny_splice, tmp_path) -> Path:
    out = tmp_path / 'model'
    shutil.copytree(tiny_splice, out)
    return out


@pytest.fixture(scope='session')
def so400m_splice(tmp_path_factory) -> Path:
    """A tiny splice with SmolVLM2-2.2B's vision geometry (patch 14, pixel shuffle 3) and an untied LLM head."""
    from qwen3_smvl.splice.donors import make_splice
    return make_splice('tiny-so400m', tmp_path_factory.mktemp('so400m'))


@pytest.fixture(scope='session')
def distinct_head_model(tiny_splice, tmp_path_factory):
    """The tiny splice with an untied head unlike its embeddings, scaled so greedy tokens depend on the input."""
    return with_distinct_head(tiny_splice, tmp_path_factory.mktemp('vllm') / 'model')


def with_distinct_head(splice: Path, out: Path) -> Path:
    """SPLICE with an untied random head and a connector scaled by 5, saved to OUT."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor
    torch.manual_seed(0)
    model = AutoModelForImageTextToText.from_pretrained(splice, tie_word_embeddings=False)
    model.config.tie_word_embeddings = model.config.text_config.tie_word_embeddings = False
    with torch.no_grad():
        model.lm_head.weight = torch.nn.Parameter(torch.randn_like(model.lm_head.weight))
        model.model.connector.modality_projection.proj.weight.mul_(5)
    model.save_pretrained(out)
    AutoProcessor.from_pretrained(splice).save_pretrained(out)
    return out


def box_text(x1, y1, x2, y2) -> str:
    return f'{BOX_START}({x1},{y1}),({x2},{y2}){BOX_END}'


def ref_text(ref) -> str:
    return f'{OBJECT_REF_START}{ref}{OBJECT_REF_END}'


@pytest.fixture(scope='session')
def box_model(tiny_splice, tmp_path_factory):
    """The tiny splice trained in-process on one grounding row until it answers with the row's box (CPU, seconds)."""
    return train_box_model(tiny_splice, tmp_path_factory.mktemp('box_model'))


def train_template(splice: Path):
    """swift's template of the plugin for SPLICE in train mode (its processor is `.processor`)."""
    return swift_template(splice, 'train')


def swift_template(model_dir: Path, mode: str):
    """swift's template of the plugin for MODEL_DIR: 'train' as `swift sft`, 'transformers' as `swift deploy`'s
    transformers backend encodes a request."""
    from swift.model import get_model_processor
    from swift.template import get_template

    from qwen3_smvl.swift_plugin import load_plugin
    plugin = load_plugin()
    processor = get_model_processor(str(model_dir), model_type=plugin.MODEL_TYPE, load_model=False)[1]
    template = get_template(processor, template_type=plugin.TEMPLATE_TYPE)
    template.set_mode(mode)
    return template


def train_box_model(splice: Path, work: Path):
    """SPLICE trained on one grounding row until it answers with the row's box: (WORK/model, its picture)."""
    image = work / 'red.png'
    Image.new('RGB', (64, 48), 'white').save(image)
    row = {'messages': [{'role': 'user', 'content': '<image>框出<ref-object>'},
                        {'role': 'assistant', 'content': '<ref-object><bbox>'}],
           'objects': {'ref': ['红色圆形', '红色圆形'], 'bbox': [[8, 12, 24, 36]]}, 'images': [str(image)]}
    return train_rows(splice, work, [row]), image


def train_rows(splice: Path, work: Path, rows: list, lr: float = 3e-3, target_loss: float = 0.01) -> Path:
    """SPLICE trained in-process (CPU, seconds) on swift-format ROWS, one batch, until it answers them: WORK/model."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    template = train_template(splice)
    batch = template.data_collator([template.encode(json.loads(json.dumps(row))) for row in rows])
    torch.manual_seed(0)
    model = AutoModelForImageTextToText.from_pretrained(splice)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    for step in range(400):
        inputs = template._post_encode(model, dict(batch))
        loss = model(inputs_embeds=inputs['inputs_embeds'], attention_mask=batch['attention_mask'],
                     labels=batch['labels']).loss
        if loss.item() < target_loss:
            break
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print(f'trained on {len(rows)} rows: loss {loss.item():.5f} after {step} steps')
    assert loss.item() < target_loss, loss.item()
    out = work / 'model'
    model.save_pretrained(out)
    AutoProcessor.from_pretrained(splice).save_pretrained(out)
    return out


TOOLS = [{'type': 'function', 'function': {'name': 'get_weather', 'description': '查询天气', 'parameters': {
    'type': 'object', 'properties': {'city': {'type': 'string'}}, 'required': ['city']}}}]
TOOL_CALL = {'name': 'get_weather', 'arguments': {'city': '北京'}}


def thinking_rows(work: Path):
    """Rows that teach a splice to think before it counts (thinking on), to answer alone (off), and to call a tool:
    (rows, the picture)."""
    image = work / 'triangles.png'
    Image.new('RGB', (64, 48), 'white').save(image)
    question = {'role': 'user', 'content': '<image>图中有几个三角形？'}
    thinks = {'messages': [question, {'role': 'assistant', 'content': '<think>\n数一数\n</think>\n\n三个'}],
              'images': [str(image)]}
    answers = {'messages': [question, {'role': 'assistant', 'content': '三个'}], 'images': [str(image)]}  # thinking off
    calls = {'messages': [{'role': 'user', 'content': '北京天气？'}, {'role': 'assistant', 'content': (
        f'<tool_call>\n{json.dumps(TOOL_CALL, ensure_ascii=False)}\n</tool_call>')}], 'tools': TOOLS}
    # both turns begin '<think>': '\n' when it thinks, '\n\n' when thinking is off; twice the first keeps it ahead
    return [thinks, thinks, answers, calls], Image.open(image)


EXPECTED_BOX = ref_text('红色圆形') + box_text(125, 250, 375, 750)  # [8, 12, 24, 36] of 64x48 in thousandths
