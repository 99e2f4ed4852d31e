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
