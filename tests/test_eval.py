"""eval/mmmu.py: the real EvalScope pipeline against a real `swift deploy` of the tiny splice on 127.0.0.1."""
import json

import pytest

from conftest import run_tool
from eval_data import COLOURS, make_cmmmu, make_mmbench, make_mmmu, png

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


def test_evalscope_scores_the_answer_of_a_thinking_model(tiny_splice, tmp_path):
    """Thinking on: the served answer's thinking comes as reasoning_content, EvalScope scores `content` alone (MMMU's
    open question, official open-answer scoring) and keeps the thinking apart in its review."""
    from evalscope.benchmarks.mmmu.mmmu_adapter import OPEN_PROMPT

    from conftest import train_rows
    from qwen3_smvl.serve.deploy import served
    question = '<image 1> 图中有几个三角形？'
    make_mmmu(tmp_path / 'bench' / 'mmmu', subjects=('Math',), per_subject=1, open_question=(question, '3'))
    # the tiny splice taught to think, then answer, to the very prompt EvalScope sends
    image = tmp_path / 'circle.png'
    image.write_bytes(png(COLOURS['red']))  # the picture make_mmmu puts in its first row
    prompt = OPEN_PROMPT.format(question=question).replace('<image 1>', '<image>')
    row = {'messages': [{'role': 'user', 'content': prompt},
                        {'role': 'assistant', 'content': '<think>\n数一数\n</think>\n\nANSWER: 3'}], 'images': [str(image)]}
    model = train_rows(tiny_splice, tmp_path, [row], target_loss=0.05)
    work = tmp_path / 'eval'
    with served(model, tmp_path / 'deploy.log', ENABLE_THINKING='true') as base:
        res = run_tool('eval/mmmu.py', '--api-url', base, '--model', 'qwen3-smvl', '--local-path', tmp_path / 'bench',
                       '--datasets', 'mmmu', '--work-dir', work, '--max-tokens', 32, timeout=900)
    [review] = [json.loads(line) for f in (work / 'reviews' / 'qwen3-smvl').glob('mmmu_Math*.jsonl')
                for line in f.read_text().splitlines()]
    score = review['sample_score']['score']
    assert score['prediction'] == 'ANSWER: 3'  # the served content: no think block in what is scored
    assert score['extracted_prediction'] == '3' and score['value'][score['main_score_name']] == 1.0
    # the thinking came back too, as EvalScope's reasoning part of the message, beside the answer
    [prediction] = [json.loads(line) for line in (work / 'predictions' / 'qwen3-smvl' / 'mmmu_Math.jsonl').open()]
    parts = prediction['model_output']['choices'][0]['message']['content']
    assert [(p['type'], p.get('reasoning') or p.get('text')) for p in parts] == [('reasoning', '数一数'),
                                                                                  ('text', 'ANSWER: 3')]
    assert '| mmmu | Math | 1 | 1.0000 |' in res.stdout
