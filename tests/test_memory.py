"""GRADIENT_CHECKPOINTING=auto: the memory estimate behind it, and the decision against the device."""
import json

from qwen3_smvl import DATA_DIR
from qwen3_smvl.train import memory

QWEN3_0_6B = json.loads((DATA_DIR / 'qwen3_0_6b.json').read_text())['config']
GIB = 2**30


def test_estimate_grows_with_the_batch_and_shrinks_with_checkpointing_and_zero():
    base = dict(text_config=QWEN3_0_6B, batch=8, max_length=2048, dtype='bfloat16', tuner='connector')
    without = memory.step_bytes(**base)
    assert memory.step_bytes(**base, checkpointing=True) < 0.7 * without
    assert memory.step_bytes(**{**base, 'batch': 4}) < 0.55 * without
    assert memory.step_bytes(**{**base, 'dtype': 'float32'}) > 1.5 * without
    full = memory.step_bytes(**{**base, 'tuner': 'full'})
    assert full - without > 5 * GIB  # a gradient and two AdamW moments for 0.6B parameters
    assert memory.step_bytes(**{**base, 'tuner': 'full'}, world=8, zero=2) < full
    assert memory.step_bytes(**{**base, 'tuner': 'full'}, world=8, zero=3) < memory.step_bytes(
        **{**base, 'tuner': 'full'}, world=8, zero=2)
    # the logits of 16k tokens over Qwen3's 151,936-word vocabulary alone: bf16 + a float32 copy + its gradient
    assert without > 16384 * 151936 * 10


def test_checkpointing_only_where_the_step_would_not_fit(tiny_splice, monkeypatch, capsys):
    model = tiny_splice
    monkeypatch.setattr(memory, 'device_bytes', lambda: (80 * GIB, 'NVIDIA H100 80GB HBM3'))
    assert memory.decide(model, 8, 2048, 'bfloat16', 'connector')[0] is False
    real = json.loads((model / 'config.json').read_text())
    real['text_config'].update(QWEN3_0_6B)
    big = model.parent / 'real-dims-config'
    big.mkdir(exist_ok=True)
    (big / 'config.json').write_text(json.dumps(real))
    need, why = memory.decide(big, 8, 2048, 'bfloat16', 'connector')
    assert need is False and why.startswith('off (auto: a step of 8x2048 tokens needs about')
    monkeypatch.setattr(memory, 'device_bytes', lambda: (24 * GIB, 'NVIDIA GeForce RTX 4090'))
    need, why = memory.decide(big, 8, 2048, 'bfloat16', 'connector')
    assert need is True and why.endswith('NVIDIA GeForce RTX 4090: 24.0 GiB)')
    assert memory.main(['--model', str(big), '--batch-size', '1', '--max-length', '2048', '--dtype', 'bfloat16',
                        '--tuner', 'lora']) == 0
    assert capsys.readouterr().out.startswith('false off (auto: a step of 1x2048 tokens')
