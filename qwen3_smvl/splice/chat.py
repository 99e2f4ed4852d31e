"""What the checkpoint talks with: Qwen's tokenizer, the chat template, SmolVLM's processor and the stop tokens."""
import json

from transformers import AutoImageProcessor, AutoTokenizer, GenerationConfig, SmolVLMConfig

from .. import DATA_DIR
from ..tokens import IMAGE_TOKEN, PROCESSOR_TOKENS, VIDEO_TOKEN, token_id
from .config import SpliceError, tokens_per_tile
from .weights import Donor


def chat_template() -> str:
    text = (DATA_DIR / 'chat_template.jinja').read_text()
    return text.replace('[[IMAGE_TOKEN]]', IMAGE_TOKEN).replace('[[VIDEO_TOKEN]]', VIDEO_TOKEN)


def build_processor(vision: Donor, llm: Donor, config: SmolVLMConfig):
    from transformers import AutoVideoProcessor, SmolVLMProcessor
    tokenizer = AutoTokenizer.from_pretrained(llm.path, **PROCESSOR_TOKENS)
    tokenizer.chat_template = template = chat_template()
    image_seq_len = tokens_per_tile(config)
    processor_config = vision.path / 'processor_config.json'
    declared = json.loads(processor_config.read_text()).get('image_seq_len') if processor_config.is_file() else None
    if declared is not None and declared != image_seq_len:
        raise SpliceError(f'vision donor declares image_seq_len {declared}, its config implies {image_seq_len}')
    return SmolVLMProcessor(
        image_processor=AutoImageProcessor.from_pretrained(vision.path),
        tokenizer=tokenizer,
        video_processor=AutoVideoProcessor.from_pretrained(vision.path),
        image_seq_len=image_seq_len,
        chat_template=template,
    )


def generation_config(llm: Donor, tokenizer) -> GenerationConfig:
    """Qwen's sampling defaults with stop and pad tokens read from the tokenizer."""
    base = GenerationConfig.from_pretrained(llm.path) if (llm.path / 'generation_config.json').is_file() else None
    kwargs = base.to_diff_dict() if base else {}
    kwargs.pop('transformers_version', None)
    kwargs.update(
        eos_token_id=[token_id(tokenizer, tokenizer.eos_token), token_id(tokenizer, tokenizer.pad_token)],
        pad_token_id=token_id(tokenizer, tokenizer.pad_token),
    )
    return GenerationConfig(**kwargs)
