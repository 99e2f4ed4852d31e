"""Top-k sampling that draws among the k kept tokens, not over the whole vocabulary.

transformers' sampling softmaxes all 151,936 logits and `torch.multinomial` draws a random number for each of them at
every generated token: on the CPU that costs more than the tiny models' forward (128 rollouts on a 2-core Intel Xeon:
0.50 s a token against 0.02 s for the same draw among the top 20; bench/sampling.py). With top-k and no other
truncation (top-p, min-p, typical, epsilon, eta, top-h) only the k tokens can come out, so drawing among them is the
same distribution (ties at the k-th logit aside). The draw is made in a logits processor that leaves the drawn token
alone standing; greedy decoding then takes it. Scores and logits transformers returns are untouched (swift's logprobs
read the raw logits).
"""
import copy
from typing import Any, Dict

import torch
from transformers import GenerationConfig, LogitsProcessor, LogitsProcessorList

# Settings under which transformers would truncate the distribution beyond top-k, at the values that do nothing.
NEUTRAL = {'top_p': (None, 1.0), 'min_p': (None,), 'typical_p': (None, 1.0), 'epsilon_cutoff': (None, 0.0),
           'eta_cutoff': (None, 0.0), 'top_h': (None,), 'num_beams': (None, 1), 'num_return_sequences': (None, 1),
           'watermarking_config': (None,), 'renormalize_logits': (None, False)}


class TopKDraw(LogitsProcessor):
    """Draws one of the `top_k` highest logits at `temperature`, as transformers' warpers and sampling would."""

    def __init__(self, top_k: int, temperature: float):
        self.top_k = top_k
        self.temperature = temperature

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        values, indices = scores.topk(min(self.top_k, scores.shape[-1]), dim=-1)
        drawn = torch.multinomial(torch.softmax(values / self.temperature, dim=-1), num_samples=1)
        return torch.full_like(scores, -float('inf')).scatter_(1, indices.gather(1, drawn), 0.0)


def draws_among_top_k(config: GenerationConfig) -> bool:
    """True when `config` samples with top-k and nothing else truncates its distribution."""
    return bool(config.do_sample and config.top_k and all(getattr(config, name, None) in values
                                                          for name, values in NEUTRAL.items()))


def top_k_generate_kwargs(generate_kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """`generate` kwargs with a top-k sampling config turned into greedy decoding over `TopKDraw`; others unchanged."""
    config = generate_kwargs.get('generation_config')
    if config is None or not draws_among_top_k(config):
        return generate_kwargs
    draw = TopKDraw(config.top_k, config.temperature or 1.0)
    config = copy.deepcopy(config)
    config.do_sample, config.temperature, config.top_k, config.top_p = False, None, None, None
    # After the caller's processors (swift's logits streamer reads the scores before the draw).
    processors = LogitsProcessorList([*(generate_kwargs.get('logits_processor') or []), draw])
    return {**generate_kwargs, 'generation_config': config, 'logits_processor': processors}
