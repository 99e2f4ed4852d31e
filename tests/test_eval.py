"""eval/mmmu.py: the real EvalScope pipeline against a real `swift deploy` of the tiny splice on 127.0.0.1."""
import json

import pytest

from conftest import run_tool
from eval_data import make_cmmmu, make_mmbench, make_mmmu

pytestmark = pytest.mark.slow


def test_evalscope_mmmu_against_served_model(tiny_splice, tmp_path):
    from qwen3_smvl.serve.deploy import served
    make_mmmu(tmp_path / 'bench' / 'mmmu', subjects=('Art', 'Math'), per_subject=2)
    make_mmbench(tmp_path / 'bench' / 'mm_bench', 'cn', 'dev', n=3)
    make_mmbench(tmp_path / 'bench' / 'cc_bench', 'cc', 'test', n=3)
    make_cmmmu(tmp_path / 'bench' / 'cmmmu', subjects=('艺术', '数学'), per_subject=3)
    work = tmp_path / 'eval'
    with served(tiny_splice, tmp_path / 'deploy.log', MAX_NEW_TOKENS=8) as base:
        res = run_tool('eval/mmmu.py', '--api-url', base, '--model', 'qwen3-smvl', '--local-path', tmp_path / 'bench',
                       '--datasets', 'mmmu,mm_bench,cmmmu,cc_bench',
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
    # the Chinese benchmarks, offline: each with its own subsets (CMMMU's come from its subcategory column)
    cmmmu = json.loads((work / 'reports' / 'qwen3-smvl' / 'cmmmu.json').read_text())
    assert {s['name']: s['num'] for c in cmmmu['metrics'][0]['categories'] for s in c['subsets']} == {'艺术': 2, '数学': 2}
    assert '| cc_bench | cc | 2 |' in res.stdout and '| cmmmu | 艺术 | 2 |' in res.stdout


def test_an_evaluation_that_scores_nothing_fails(tiny_splice, tmp_path):
    from qwen3_smvl.serve.deploy import served
    make_cmmmu(tmp_path / 'bench' / 'cmmmu', subjects=('艺术',), per_subject=1)
    make_mmmu(tmp_path / 'bench' / 'mmmu', subjects=('Art',), per_subject=1)
    # a subset the local MMMU copy does not hold: refused before anything runs
    res = run_tool('eval/mmmu.py', '--api-url', 'http://127.0.0.1:9/v1', '--model', 'qwen3-smvl', '--local-path',
                   tmp_path / 'bench', '--datasets', 'mmmu', '--subsets', 'Math', check=False)
    assert res.returncode == 1 and "error: mmmu: subsets ['Math'] are not in" in res.stderr and "['Art']" in res.stderr
    # a real CMMMU subject with no rows in the copy: EvalScope skips it; the command must not pass for a score
    with served(tiny_splice, tmp_path / 'deploy.log', MAX_NEW_TOKENS=4) as base:
        res = run_tool('eval/mmmu.py', '--api-url', base, '--model', 'qwen3-smvl', '--local-path', tmp_path / 'bench',
                       '--datasets', 'cmmmu', '--subsets', '物理', '--limit', 1, '--work-dir', tmp_path / 'eval',
                       '--max-tokens', 4, check=False, timeout=900)
    assert res.returncode == 1
    assert 'error: no sample of cmmmu was scored' in res.stderr and '物理' in res.stderr
