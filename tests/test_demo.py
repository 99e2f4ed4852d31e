"""The demo's whole chain at a small size (the accuracy margin itself is asserted by `make demo`)."""
import json
from collections import Counter

import pytest

from conftest import REPO, run_tool
from qwen3_smvl.datasets.synthetic import is_absent_answer

pytestmark = pytest.mark.slow


def test_demo_chain_end_to_end(tmp_path, monkeypatch):
    out = tmp_path / 'demo'
    res = run_tool('tools/demo.py', '--out', out, '--train', 24, '--test', 6, '--text-only', 4, '--grounding', 12,
                   '--grounding-test', 4, '--stage1-steps', 4, '--stage2-epochs', 1, '--qa-repeats', 1,
                   '--margin', -1, '--box-margin', -1,
                   '--questions-per-image', 2, '--pretrain-vision', 20, '--empty', 3, timeout=1200)
    log = res.stdout
    for n in range(1, 7):
        assert f'[{n}/6]' in log
    assert log.count('question: ') == 2 and 'boxes: ' in log  # step 5: served answers came back over the OpenAI API
    runs = {'trained, real images', 'trained, blank images', 'untrained splice, real images'}
    accuracy = json.loads((out / 'accuracy.json').read_text())
    boxes = json.loads((out / 'grounding.json').read_text())
    assert set(accuracy) == set(boxes) == runs
    monkeypatch.syspath_prepend(str(REPO / 'tools'))
    from demo_rl import stage2_scores  # make demo-rl's "before" reads these files
    blank = stage2_scores(out)['blank']
    shapes = blank.pop('boxes_by_shapes')  # pictures right and asked, by the shapes they show
    assert blank == {'answers': accuracy['trained, blank images']['accuracy'],
                     'boxes': boxes['trained, blank images']['accuracy'],
                     'mean_iou': boxes['trained, blank images']['mean_iou'],
                     'boxes_right': [boxes['trained, blank images']['correct'], 4]}
    assert set(shapes) <= {1, 2, 3} and [sum(c) for c in zip(*shapes.values())] == blank['boxes_right']
    held_out = [json.loads(line) for line in (out / 'data' / 'grounding_test.jsonl').open()]
    assert {n: asked for n, (_, asked) in shapes.items()} == dict(Counter(len(r['objects']['bbox']) for r in held_out))
    assert all(r['total'] == 6 for r in accuracy.values()) and all(r['total'] == 4 for r in boxes.values())
    assert (out / 'grounding_example.png').exists()
    assert sum(1 for _ in (out / 'data' / 'grounding_train.jsonl').open()) == 12
    train = [json.loads(line) for line in (out / 'data' / 'train.jsonl').open()]
    assert sorted(len(row['messages']) for row in train) == [2] * 4 + [4] * 27  # 4 text-only; two turns a picture
    assert sum(is_absent_answer(row['messages'][1]['content']) for row in train) == 3  # --empty 3
    assert 'blank images answered "图中没有..." (there is none): ' in log
    assert 'vision pre-training step 20/20' in res.stderr  # the donor's tower trained before the splice
    assert (out / 'stage1' / 'images' / 'train_loss.png').exists() and (out / 'stage2' / 'images' / 'train_loss.png').exists()
    trains = (out / 'stage2' / 'trainable_parameters.txt').read_text()
    assert 'model.vision_model.encoder.layers.1.' in trains and 'model.vision_model.post_layernorm' in trains
    assert 'model.vision_model.embeddings' not in trains  # --vit-layers 2: the tiny tower's layers, not its patches
    assert sorted(p.name for p in (out / 'data' / 'images' / 'test').iterdir()) == [f'{i:05d}.png' for i in range(6)]
