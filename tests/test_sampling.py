"""Top-k sampling among the k kept tokens (qwen3_smvl/sampling.py) against transformers' own warpers and decoding."""
import pytest
import torch
from transformers import GenerationConfig, LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper

from qwen3_smvl.sampling import TopKDraw, top_k_generate_kwargs


def test_the_draw_has_transformers_top_k_distribution():
    torch.manual_seed(0)
    logits = torch.randn(2, 1000) * 3
    warped = LogitsProcessorList([TemperatureLogitsWarper(0.7), TopKLogitsWarper(5)])(None, logits.clone())
    expected = torch.softmax(warped, dim=-1)
    draws = 20_000
    counts = torch.zeros_like(logits)
    for _ in range(draws // 1000):
        out = TopKDraw(top_k=5, temperature=0.7)(None, logits.repeat_interleave(1000, dim=0))
        assert torch.isfinite(out).sum(dim=-1).eq(1).all()  # one token left standing
        counts += torch.nn.functional.one_hot(out.argmax(-1), 1000).reshape(2, 1000, 1000).sum(1).float()
    assert counts[expected == 0].sum() == 0
    torch.testing.assert_close(counts / draws, expected, atol=0.015, rtol=0)


def config(**kwargs) -> GenerationConfig:
    return GenerationConfig(**{'do_sample': True, 'temperature': 1.0, 'top_k': 20, 'top_p': 1.0, **kwargs})


@pytest.mark.parametrize('kwargs', [dict(top_p=0.95), dict(do_sample=False), dict(top_k=None), dict(min_p=0.1),
                                    dict(num_return_sequences=2)])
def test_other_decoding_is_left_to_transformers(kwargs):
    generate_kwargs = {'generation_config': config(**kwargs), 'input_ids': None}
    assert top_k_generate_kwargs(generate_kwargs) is generate_kwargs


def test_top_k_sampling_becomes_greedy_over_the_draw_after_the_callers_processors():
    streamer = TemperatureLogitsWarper(2.0)  # any processor the caller passed
    original = config(temperature=0.6, top_k=7)
    out = top_k_generate_kwargs({'generation_config': original, 'logits_processor': LogitsProcessorList([streamer])})
    assert out['generation_config'].do_sample is False and original.do_sample is True
    first, draw = out['logits_processor']
    assert first is streamer and (draw.top_k, draw.temperature) == (7, 0.6)


def test_the_template_draws_among_top_k_and_top_1_answers_as_greedy(distinct_head_model, monkeypatch):
    from swift.infer_engine import InferRequest, RequestConfig, TransformersEngine
    from PIL import Image
    from qwen3_smvl.swift_plugin import load_plugin
    calls, draw = [], TopKDraw.__call__

    def counted(self, input_ids, scores):
        calls.append(scores.shape)
        return draw(self, input_ids, scores)
    monkeypatch.setattr(TopKDraw, '__call__', counted)
    engine = TransformersEngine(str(distinct_head_model), model_type=load_plugin().MODEL_TYPE)
    request = InferRequest(messages=[{'role': 'user', 'content': '<image>图中是什么？'}],
                           images=[Image.new('RGB', (64, 48), (200, 30, 30))])

    def answer(**sampling):
        return engine.infer([request], RequestConfig(max_tokens=6, **sampling))[0].choices[0].message.content
    greedy = answer(temperature=0)
    assert not calls
    assert answer(temperature=1.0, top_k=1, top_p=1.0) == greedy  # top-p off: the checkpoint's default is 0.95
    assert len(calls) == 6  # one draw a generated token, through the template's generate
    torch.manual_seed(0)
    sampled = {answer(temperature=1.5, top_k=50, top_p=1.0) for _ in range(4)}
    assert len(sampled) > 1 or sampled != {greedy}
