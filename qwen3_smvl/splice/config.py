"""The splice's SmolVLM config, built from the two donors' config.json dicts, and the numbers it implies."""
from typing import Tuple

from transformers import SmolVLMConfig

from ..tokens import IMAGE_TOKEN, token_id
from ..upstream import quiet_default_smolvlm_config_warning

quiet_default_smolvlm_config_warning()  # every importer (plugin, vLLM model, tools) saves or prints configs

ARCHITECTURE = 'Qwen3SmVLForConditionalGeneration'  # selects the vLLM model; transformers loads by model_type
MANIFEST = 'qwen3_smvl_manifest.json'  # written last: its presence marks a complete build
VISION_TYPES = ('smolvlm', 'idefics3')
LLM_TYPES = ('qwen3', )


class SpliceError(ValueError):
    """Bad input to the splice; the message names the problem in one line."""


def splice_config(vision_config: dict, llm_config: dict, tokenizer) -> SmolVLMConfig:
    """The SmolVLM config of the splice, from the two donors' config.json dicts; ids come from the tokenizer."""
    text_config = {k: v for k, v in llm_config.items() if k not in ('architectures', 'transformers_version')}
    tie = bool(llm_config.get('tie_word_embeddings', False))
    text_config.update(
        tie_word_embeddings=tie,  # vLLM reads text_config's flag, transformers the top-level one: keep them equal
        eos_token_id=token_id(tokenizer, tokenizer.eos_token),
        pad_token_id=token_id(tokenizer, tokenizer.pad_token),
    )
    if len(tokenizer) > text_config['vocab_size']:
        raise SpliceError(f'tokenizer has {len(tokenizer)} tokens but the LLM vocab_size is {text_config["vocab_size"]}')
    config = SmolVLMConfig(
        vision_config=vision_config['vision_config'],
        text_config=text_config,
        scale_factor=vision_config.get('scale_factor', 2),
        image_token_id=token_id(tokenizer, IMAGE_TOKEN),
        pad_token_id=text_config['pad_token_id'],
        tie_word_embeddings=tie,
        architectures=[ARCHITECTURE],
        dtype=llm_config.get('dtype') or llm_config.get('torch_dtype') or 'float32',
    )
    patches = config.vision_config.image_size // config.vision_config.patch_size
    if patches % config.scale_factor:
        raise SpliceError(f'vision grid {patches}x{patches} is not divisible by scale_factor {config.scale_factor}')
    return config


def connector_shape(config: SmolVLMConfig) -> Tuple[int, int]:
    """(out, in) of the pixel-shuffle projection: vision_hidden * scale_factor^2 -> LLM hidden."""
    return config.text_config.hidden_size, config.vision_config.hidden_size * config.scale_factor**2


def tokens_per_tile(config: SmolVLMConfig) -> int:
    """Image tokens per tile: the tower's patch grid, pixel-shuffled by scale_factor in each direction."""
    vc = config.vision_config
    return (vc.image_size // vc.patch_size)**2 // config.scale_factor**2
