"""What a new user mistypes or runs offline gets one specific line at once, not a hub time-out or a traceback."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, run_tool
from qwen3_smvl.inputs import looks_local, strip_spec

# Hubs that refuse at once: the checks must say "not reachable" whatever network CI has.
NO_HUB = {'MODELSCOPE_DOMAIN': 'http://127.0.0.1:9', 'HF_ENDPOINT': 'http://127.0.0.1:9'}


def recipe(name, **env):
    started = time.time()
    res = subprocess.run(['bash', str(REPO / 'recipes' / name)], cwd=REPO, capture_output=True, text=True, timeout=300,
                         env={**os.environ, 'PATH': f'{Path(sys.executable).parent}:{os.environ["PATH"]}', **NO_HUB,
                              **{k: str(v) for k, v in env.items()}})
    return res, time.time() - started


@pytest.mark.parametrize('spec,name,local', [
    ('runs/data/trian.jsonl', 'runs/data/trian.jsonl', True),
    ('./spliced', './spliced', True),
    ('~/models/qwen', '~/models/qwen', True),
    ('AI-ModelScope/the_cauldron:cocoqa#1000', 'AI-ModelScope/the_cauldron', False),
    ('hf::HuggingFaceM4/the_cauldron:cocoqa', 'HuggingFaceM4/the_cauldron', False),
    ('Qwen/Qwen3-0.6B', 'Qwen/Qwen3-0.6B', False),
    ('data.parquet', 'data.parquet', True),
    ('a/b/c', 'a/b/c', True),
    ('my-registered-set', 'my-registered-set', False),
])
def test_local_paths_and_hub_ids_are_told_apart(spec, name, local):
    assert strip_spec(spec) == name and looks_local(name) == local


def test_a_name_whose_first_folder_exists_is_local(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'runs').mkdir()
    assert looks_local('runs/splcied') and not looks_local('Qwen/Qwen3-0.6B')


def test_mistyped_paths_fail_at_once_naming_each(tiny_splice, tmp_path):
    typo = tmp_path / 'data' / 'trian.jsonl'
    res, seconds = recipe('stage1.sh', MODEL=f'{tiny_splice}-typo', DATASET=typo, OUTPUT_DIR=tmp_path / 'run')
    assert res.returncode == 2 and seconds < 10
    assert f'error: MODEL not found: {tiny_splice}-typo' in res.stderr
    assert f'error: DATASET not found: {typo}' in res.stderr
    assert 'run sh:' not in res.stdout + res.stderr  # swift never started


def test_a_hub_id_without_a_reachable_hub_is_one_line(tiny_splice, tmp_path):
    res, seconds = recipe('stage1.sh', MODEL=tiny_splice, DATASET='AI-ModelScope/the_cauldron:cocoqa',
                          OUTPUT_DIR=tmp_path / 'run')
    assert res.returncode == 2 and seconds < 15
    assert res.stderr.strip().splitlines() == [
        'error: AI-ModelScope/the_cauldron: ModelScope (http://127.0.0.1:9) is not reachable from here. Pass a local '
        'folder instead (on a networked machine: `modelscope download --dataset AI-ModelScope/the_cauldron '
        '--local_dir DIR`), or try Hugging Face (USE_HF=1).']


@pytest.mark.parametrize('hub,other', [('modelscope', '--hub hf'), ('hf', '--hub modelscope')])
def test_build_model_offline_is_one_line(tmp_path, hub, other):
    started = time.time()
    res = run_tool('tools/build_model.py', '--vision', 'HuggingFaceTB/SmolVLM2-256M-Video-Instruct', '--llm',
                   'Qwen/Qwen3-0.6B', '--out', tmp_path / 'out', '--hub', hub, check=False, env=NO_HUB)
    assert res.returncode == 2 and time.time() - started < 60
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: HuggingFaceTB/SmolVLM2-256M-Video-Instruct: ')
    assert 'is not reachable from here' in lines[0] and other in lines[0] and 'Downloads are cached in' in lines[0]
    assert not (tmp_path / 'out').exists()


def test_stage2_refuses_a_fresh_splice(tiny_splice, tmp_path):
    res, _ = recipe('stage2.sh', MODEL=tiny_splice, DATASET=tmp_path / 'unused.jsonl', OUTPUT_DIR=tmp_path / 'run')
    assert res.returncode == 2 and 'is a fresh splice (its connector is random)' in res.stderr
    assert 'FROM_SPLICE=true' in res.stderr and not (tmp_path / 'run').exists()


def test_every_sample_too_long_ends_with_the_recipe_knobs(tiny_splice, tmp_path):
    from qwen3_smvl.datasets.synthetic import make_dataset
    files = make_dataset(tmp_path / 'data', train=6, test=1, size=48)
    res, _ = recipe('stage1.sh', MODEL=tiny_splice, DATASET=files['train'], OUTPUT_DIR=tmp_path / 'run', MAX_LENGTH=20,
                    MAX_STEPS=2, BATCH_SIZE=2, WORKERS=0, DATASET_NUM_PROC=1, SAMPLE_STEPS=0, TORCH_DTYPE='float32',
                    REPORT_TO='none')
    assert res.returncode == 1
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith('error: training stopped after refusing rows, ') and 'too long for MAX_LENGTH' in last
    assert 'raise MAX_LENGTH' in last and 'SMVL_LONGEST_EDGE' in last and 'truncation_strategy' not in last
    # the per-sample line names the recipe's knobs too
    assert 'raise MAX_LENGTH (--max_length), lower SMVL_LONGEST_EDGE or SMVL_VIDEO_FRAMES' in res.stdout + res.stderr
    rows = [json.loads(line) for line in (tmp_path / 'run' / 'bad_rows.jsonl').read_text().splitlines()]
    assert rows and {r['cause'] for r in rows} == {'too long for MAX_LENGTH'}


def test_no_warning_about_the_default_smolvlm_config(tiny_donors, tmp_path):
    res = run_tool('tools/build_model.py', '--vision', tiny_donors / 'vision', '--llm', tiny_donors / 'llm', '--out',
                   tmp_path / 'out')
    assert 'wrote' in res.stdout and '128002' not in res.stdout + res.stderr
