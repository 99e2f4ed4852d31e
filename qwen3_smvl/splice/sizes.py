"""Parameter counts of a splice from its config alone, and the table of every splice the published donors allow.

  python -m qwen3_smvl.splice.sizes      # prints the README's "Sizes" table
"""
from typing import Dict

import torch
from transformers import AutoTokenizer, SmolVLMConfig

from .config import splice_config, tokens_per_tile
from .donors import LLM_DONORS, VISION_DONORS, genuine_qwen3_tokenizer_files, read_preset_file


def parameter_counts(config: SmolVLMConfig) -> Dict[str, int]:
    """Exact parameter counts per part, from the config alone (meta tensors, nothing allocated)."""
    from transformers import AutoModelForImageTextToText
    with torch.device('meta'):
        model = AutoModelForImageTextToText.from_config(config)
    parts = {
        'vision_tower': model.model.vision_model,
        'connector': model.model.connector,
        'llm': model.model.text_model,
    }
    counts = {k: sum(p.numel() for p in m.parameters()) for k, m in parts.items()}
    counts['lm_head'] = 0 if config.tie_word_embeddings else model.lm_head.weight.numel()
    counts['total'] = sum(p.numel() for p in model.parameters())  # a tied head is one tensor, counted once
    return counts


def size_table() -> str:
    tokenizer = AutoTokenizer.from_pretrained(genuine_qwen3_tokenizer_files())
    rows = ['| vision donor | LLM donor | tokens per tile | vision tower | connector | LLM | lm_head | total |',
            '|---|---|---|---|---|---|---|---|']
    for vision in VISION_DONORS:
        for llm in LLM_DONORS:
            config = splice_config(read_preset_file(VISION_DONORS[vision])['config'],
                                   read_preset_file(LLM_DONORS[llm])['config'], tokenizer)
            counts = parameter_counts(config)
            cells = [f'{counts[k] / 1e6:,.1f}M' if counts[k] else 'tied' for k in
                     ('vision_tower', 'connector', 'llm', 'lm_head', 'total')]
            rows.append(f'| {vision} | {llm} | {tokens_per_tile(config)} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(rows)


if __name__ == '__main__':
    print(size_table())
