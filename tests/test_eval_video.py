"""eval/mmmu.py --datasets mvbench: EvalScope's MVBench adapter on a local copy in its layout, against a real
`swift deploy` of the tiny splice answering video_url parts."""
import json

import pytest

from conftest import run_tool
from mvbench_data import TASKS, make_mvbench

pytestmark = pytest.mark.slow


def test_evalscope_mvbench_against_served_model(tiny_splice, tmp_path):
    from qwen3_smvl.serve.deploy import served
    make_mvbench(tmp_path / 'bench' / 'mvbench', n=2)
    work = tmp_path / 'eval'
    with served(tiny_splice, tmp_path / 'deploy.log', MAX_NEW_TOKENS=8) as base:
        res = run_tool('eval/mmmu.py', '--api-url', base, '--model', 'qwen3-smvl', '--local-path', tmp_path / 'bench',
                       '--datasets', 'mvbench', '--limit', 2, '--work-dir', work, '--max-tokens', 8, timeout=900)
    report = json.loads((work / 'reports' / 'qwen3-smvl' / 'mvbench.json').read_text())
    subsets = {s['name']: s['num'] for m in report['metrics'] for c in m['categories'] for s in c['subsets']}
    assert subsets == {name: 2 for name in TASKS}  # every subset of the local copy, though MVBench's default is one
    reviews = [json.loads(line) for f in (work / 'reviews' / 'qwen3-smvl').glob('mvbench_*.jsonl')
               for line in f.read_text().splitlines()]
    assert len(reviews) == 4 and all(r['sample_score']['score']['value'] is not None for r in reviews)
    assert '| mvbench | moving_direction | 2 |' in res.stdout and '**overall**' in res.stdout
