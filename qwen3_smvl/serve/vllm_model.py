"""vLLM model for the splice: vLLM's own Idefics3/SmolVLM vision tower, connector and multimodal processor, with
vLLM's own Qwen3Model as the text model (stock SmolVLM hard-codes Llama, which has no q_norm/k_norm).

Registered by qwen3_smvl.serve.vllm_plugin through the `vllm.general_plugins` entry point, so vLLM's worker processes
see it too. Imported only where vLLM is installed.
"""
from torch import nn
from transformers import SmolVLMProcessor
from vllm.config import VllmConfig
from vllm.model_executor.layers.logits_processor import LogitsProcessor
from vllm.model_executor.layers.vocab_parallel_embedding import ParallelLMHead
from vllm.model_executor.models.idefics3 import (
    Idefics3Connector,
    Idefics3DummyInputsBuilder,
    Idefics3ForConditionalGeneration,
    Idefics3Model,
    Idefics3MultiModalProcessor,
    Idefics3VisionTransformer,
)
from vllm.model_executor.models.qwen3 import Qwen3Model
from vllm.model_executor.models.smolvlm import SmolVLMProcessingInfo
from vllm.model_executor.models.utils import maybe_prefix
from vllm.multimodal import MULTIMODAL_REGISTRY

from ..processor import ImageOnlySmolVLMProcessor
from ..upstream import smolvlm_tile_grid


class Qwen3SmVLProcessingInfo(SmolVLMProcessingInfo):

    def get_hf_processor(self, **kwargs: object) -> SmolVLMProcessor:
        return self.ctx.get_hf_processor(ImageOnlySmolVLMProcessor, **kwargs)

    def _get_image_feature_grid_size(self, *, image_width: int, image_height: int, processor, mm_kwargs):
        kwargs = dict(self.ctx.get_merged_mm_kwargs(mm_kwargs))
        if kwargs.get('do_resize') is False:
            # The processor then keeps the image's size, but transformers' tile count ignores do_resize and the
            # processor's own rounding to whole tiles (the plugin's default image policy sends do_resize=False).
            return smolvlm_tile_grid(processor.image_processor, image_height, image_width, kwargs)
        return processor.image_processor.get_number_of_image_patches(image_height, image_width, kwargs)


# Both constructors replace their parents' (which would build a Llama text model first); tests/test_vllm.py fails
# when a vLLM's parent constructor sets an attribute these do not.
class Qwen3SmVLModel(Idefics3Model):

    def __init__(self, *, vllm_config: VllmConfig, prefix: str = ''):
        nn.Module.__init__(self)
        config = vllm_config.model_config.hf_config
        quant_config = vllm_config.quant_config
        self.config = config
        self.vocab_size = config.text_config.vocab_size
        self.vision_model = Idefics3VisionTransformer(config.vision_config, quant_config=quant_config,
                                                      prefix=maybe_prefix(prefix, 'vision_model'))
        self.connector = Idefics3Connector(config, quant_config, prefix=maybe_prefix(prefix, 'connector'))
        self.text_model = Qwen3Model(vllm_config=vllm_config.with_hf_config(config.text_config),
                                     prefix=maybe_prefix(prefix, 'text_model'))
        patches = config.vision_config.image_size // config.vision_config.patch_size
        self.image_seq_len = patches**2 // config.scale_factor**2
        self.image_token_id = config.image_token_id


@MULTIMODAL_REGISTRY.register_processor(Idefics3MultiModalProcessor, info=Qwen3SmVLProcessingInfo,
                                        dummy_inputs=Idefics3DummyInputsBuilder)
class Qwen3SmVLForConditionalGeneration(Idefics3ForConditionalGeneration):

    def __init__(self, *, vllm_config: VllmConfig, prefix: str = ''):
        nn.Module.__init__(self)
        config = vllm_config.model_config.hf_config
        self.config = config
        self.multimodal_config = vllm_config.model_config.multimodal_config
        with self._mark_composite_model(vllm_config, language_targets=Qwen3Model,
                                        tower_targets={'image': (Idefics3VisionTransformer, Idefics3Connector)}):
            self.model = Qwen3SmVLModel(vllm_config=vllm_config, prefix=maybe_prefix(prefix, 'model'))
        self.image_token_id = config.image_token_id
        self.lm_head = ParallelLMHead(config.text_config.vocab_size, config.text_config.hidden_size,
                                      quant_config=vllm_config.quant_config, prefix=maybe_prefix(prefix, 'lm_head'))
        # Tie exactly when transformers does: by the top-level flag (a trained head must never be replaced).
        if config.tie_word_embeddings:
            self.lm_head = self.lm_head.tie_weights(self.model.text_model.embed_tokens)
        self.logits_processor = LogitsProcessor(config.text_config.vocab_size)
