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


def test_evalscope_videomme_with_a_half_hour_clip(tiny_splice, tmp_path):
    """eval/mmmu.py --datasets videomme_v2 on a local copy in Video-MME-v2's hub layout (test.parquet, clips in
    videos/NNN.zip), one clip 30 minutes long: every question is answered by the served model and scored."""
    from qwen3_smvl.serve.deploy import served
    from videomme_data import make_videomme
    make_videomme(tmp_path / 'bench' / 'videomme_v2', n=2, long_minutes=30)
    work = tmp_path / 'eval'
    with served(tiny_splice, tmp_path / 'deploy.log', MAX_NEW_TOKENS=8, SMVL_VIDEO_FRAMES=8) as base:
        res = run_tool('eval/mmmu.py', '--api-url', base, '--model', 'qwen3-smvl', '--local-path', tmp_path / 'bench',
                       '--datasets', 'videomme_v2', '--work-dir', work, '--max-tokens', 8, timeout=900,
                       env={'MODELSCOPE_CACHE': str(tmp_path / 'modelscope')})  # EvalScope unpacks clips by id
    report = json.loads((work / 'reports' / 'qwen3-smvl' / 'videomme_v2.json').read_text())
    assert report['metrics'][0]['num'] == 2
    predictions = [json.loads(line) for f in (work / 'predictions' / 'qwen3-smvl').glob('videomme_v2_*.jsonl')
                   for line in f.read_text().splitlines()]
    assert len(predictions) == 2 and all(p['model_output']['error'] is None for p in predictions), predictions
    # the served answer to each, the long clip's included, came back from the model (not a refusal): the same
    # prompt length for both (8 sampled frames whatever the length) and generated tokens
    usage = [p['model_output']['usage'] for p in predictions]
    assert usage[0]['input_tokens'] == usage[1]['input_tokens'] and all(u['output_tokens'] > 0 for u in usage)
    assert '| videomme_v2 | all | 2 |' in res.stdout
    assert sorted(f.name for f in (tmp_path / 'modelscope').rglob('*.mp4')) == ['001.mp4', '002.mp4']
