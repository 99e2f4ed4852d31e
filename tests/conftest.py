import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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
    from qwen3_smvl.donors import make_donors
    out = tmp_path_factory.mktemp('donors')
    make_donors('tiny', out)
    return out


@pytest.fixture(scope='session')
def tiny_splice(tiny_donors, tmp_path_factory) -> Path:
    from qwen3_smvl.splice import build
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
    from qwen3_smvl.donors import make_donors
    from qwen3_smvl.splice import build
    donors = tmp_path_factory.mktemp('so400m_donors')
    make_donors('tiny-so400m', donors)
    out = tmp_path_factory.mktemp('so400m_splice') / 'model'
    build(donors / 'vision', donors / 'llm', out)
    return out


@pytest.fixture(scope='session')
def distinct_head_model(tiny_splice, tmp_path_factory):
    """The tiny splice with an untied head unlike its embeddings, scaled so greedy tokens depend on the input."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor
    torch.manual_seed(0)
    model = AutoModelForImageTextToText.from_pretrained(tiny_splice, tie_word_embeddings=False)
    model.config.tie_word_embeddings = model.config.text_config.tie_word_embeddings = False
    with torch.no_grad():
        model.lm_head.weight = torch.nn.Parameter(torch.randn_like(model.lm_head.weight))
        model.model.connector.modality_projection.proj.weight.mul_(5)
    out = tmp_path_factory.mktemp('vllm') / 'model'
    model.save_pretrained(out)
    AutoProcessor.from_pretrained(tiny_splice).save_pretrained(out)
    return out
