"""eval/mmmu.py: the real EvalScope pipeline against a real `swift deploy` of the tiny splice on 127.0.0.1."""
import json

import pytest

from conftest import run_tool
from eval_data import make_mmbench_cn, make_mmmu

pytestmark = pytest.mark.slow


def test_evalscope_mmmu_against_served_model(tiny_splice, tmp_path):
    from qwen3_smvl.serve import served
    make_mmmu(tmp_path / 'bench' / 'mmmu', subjects=('Art', 'Math'), per_subject=2)
    make_mmbench_cn(tmp_path / 'bench' / 'mm_bench', n=3)
    work = tmp_path / 'eval'
    with served(tiny_splice, tmp_path / 'deploy.log', MAX_NEW_TOKENS=8) as base:
        res = run_tool('eval/mmmu.py', '--api-url', base, '--model', 'qwen3-smvl', '--local-path', tmp_path / 'bench',
                       '--datasets', 'mmmu,mm_bench',
                       '--limit', 2, '--work-dir', work, '--max-tokens', 8, timeout=900)
    report = json.loads((work / 'reports' / 'qwen3-smvl' / 'mmmu.json').read_text())
    subsets = {s['name']: s for m in report['metrics'] for c in m['categories'] for s in c['subsets']}
    assert set(subsets) == {'Art', 'Math'} and all(s['num'] == 2 for s in subsets.values())
    # the scores are what the served answers imply: every review's score, averaged per subset
    for name, subset in subsets.items():
        reviews = [json.loads(line) for f in (work / 'reviews' / 'qwen3-smvl').glob(f'mmmu_{name}*.jsonl')
                   for line in f.read_text().splitlines()]
        assert len(reviews) == 2
        scores = []
        for review in reviews:
            score = review['sample_score']['score']
            value = score['value'][score['main_score_name']]
            # multiple choice: right exactly when the letter read off the served answer is the target
            assert value == float(score['extracted_prediction'] == ''.join(review['target']))
            scores.append(value)
        assert subset['score'] == pytest.approx(sum(scores) / len(scores))
    assert '| mmmu | Art | 2 |' in res.stdout and '| mm_bench | cn | 2 |' in res.stdout and '**overall**' in res.stdout
    mmbench = json.loads((work / 'reports' / 'qwen3-smvl' / 'mm_bench.json').read_text())
    assert mmbench['metrics'][0]['num'] == 2  # --limit 2 of the 3 rows
    assert (work / 'summary.md').read_text().startswith('| dataset |')
