"""The model card (README.md) written into every spliced checkpoint."""
from transformers import SmolVLMConfig

from ..tokens import IMAGE_TOKEN


def model_card(manifest: dict, config: SmolVLMConfig) -> str:
    p = manifest['parameters']
    rows = '\n'.join(f'| {k} | {v:,} |' for k, v in p.items())
    return f"""---
library_name: transformers
pipeline_tag: image-text-to-text
---
# Qwen3-SmVL (spliced, untrained connector)

SmolVLM2's SigLIP vision tower and pixel-shuffle connector in front of Qwen3, as a plain `smolvlm` checkpoint:
`AutoModelForImageTextToText.from_pretrained` and `AutoProcessor.from_pretrained` load it without custom code.
The connector ({manifest['connector_init']['shape'][1]} -> {manifest['connector_init']['shape'][0]}) is freshly
initialised ({manifest['connector_init']['kind']}): train it (stage 1) before expecting the model to see.

Sources: vision `{manifest['sources']['vision']}`, language model `{manifest['sources']['llm']}`.
Chat format: Qwen3's (`<|im_start|>`, `<think>`, tool calls); images as SmolVLM tiles inside Qwen's vision tokens,
image token `{IMAGE_TOKEN}` (id {config.image_token_id}), {config.scale_factor}x pixel shuffle.

| part | parameters |
|---|---|
{rows}
"""
