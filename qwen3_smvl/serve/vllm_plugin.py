"""`vllm.general_plugins` entry point: vLLM loads it in every process, including its workers."""
from ..splice.config import ARCHITECTURE


def register() -> None:
    from vllm import ModelRegistry
    if ARCHITECTURE not in ModelRegistry.get_supported_archs():
        ModelRegistry.register_model(ARCHITECTURE, 'qwen3_smvl.serve.vllm_model:Qwen3SmVLForConditionalGeneration')
