"""The parameter table of every splice the published donor configs allow (README's "Sizes"), from configs alone.

  python -m qwen3_smvl.sizes      # prints the markdown table
"""
from transformers import AutoTokenizer

from .donors import LLM_DONORS, VISION_DONORS, genuine_qwen3_tokenizer_files, read_preset_file
from .splice import parameter_counts, splice_config, tokens_per_tile


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
