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
