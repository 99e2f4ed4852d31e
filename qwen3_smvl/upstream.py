"""Work-arounds for upstream defects, each named with where it belongs."""
import logging


def quiet_default_smolvlm_config_warning() -> None:
    """transformers 5.x: `SmolVLMConfig()` with no arguments pairs SmolVLM's pad id 128002 with a default 32000-word
    Llama text config, and `to_diff_dict` builds that default every time any SmolVLM config is saved or printed, so
    every build and training run warned "pad_token_id ... got 128002" about a config that is not ours. Build the
    default once with the warning muted: `warning_once` caches that exact message, so it is not printed later. A
    wrong pad id in a real config gives another message (other numbers) and still warns."""
    from transformers import SmolVLMConfig
    logger = logging.getLogger('transformers.configuration_utils')
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        SmolVLMConfig()
    finally:
        logger.setLevel(level)


def smolvlm_tile_grid(image_processor, height: int, width: int, images_kwargs: dict):
    """transformers 5.19, SmolVLM's image processor with do_resize=False: `get_number_of_image_patches` rounds each side
    up to whole tiles on its own, but the processor scales the picture keeping its aspect ratio first
    (`resize_for_vision_encoder`: 40x30 -> 64x48 -> 64x64, 2x2 tiles, where the count says 1x2). Count at the size the
    processor makes, found by running its own resize_for_vision_encoder with a stand-in that only reports the size.
    Belongs in get_number_of_image_patches; vLLM's prompt (serve/vllm_model.py) needs the processor's count."""
    from types import SimpleNamespace
    if images_kwargs.get('do_image_splitting', image_processor.do_image_splitting):
        tile = images_kwargs.get('max_image_size', image_processor.max_image_size)['longest_edge']
        stand_in = SimpleNamespace(shape=(height, width), size=lambda: (height, width))
        height, width = type(image_processor).resize_for_vision_encoder(SizeOnly, stand_in, tile)
    images_kwargs = {**images_kwargs, 'size': {'longest_edge': max(height, width)}}
    return image_processor.get_number_of_image_patches(height, width, images_kwargs)


class SizeOnly:
    """Stands in for an image processor whose resize only says the size it was asked for."""

    @staticmethod
    def resize(image, size, resample=None):
        return size.height, size.width
