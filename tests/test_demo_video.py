"""`make demo-video`'s whole chain at a small size: clips -> stage 1 -> stage 2 -> three accuracies -> a served
video_url answer (the margin itself is asserted by `make demo-video`)."""
import json

import pytest

from conftest import run_tool

pytestmark = pytest.mark.slow


def test_demo_video_chain_end_to_end(tmp_path):
    out = tmp_path / 'demo-video'
    res = run_tool('tools/demo_video.py', '--out', out, '--train', 12, '--test', 6, '--stage1-epochs', 1,
                   '--stage2-epochs', 1, '--margin', -1, timeout=1500)
    log = res.stdout
    for n in range(1, 7):
        assert f'[{n}/6]' in log
    assert 'question: ' in log and 'answer: ' in log  # step 5: the served model answered a video_url
    accuracy = json.loads((out / 'accuracy.json').read_text())
    assert set(accuracy) == {'real', 'first frame', 'blank'} and all(r['total'] == 6 for r in accuracy.values())
    assert len(list((out / 'variants' / 'first_frame').glob('*.mp4'))) == 6
    assert (out / 'stage1' / 'images' / 'train_loss.png').exists() and (out / 'stage2' / 'images' / 'train_loss.png').exists()
