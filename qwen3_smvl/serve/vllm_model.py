"""vLLM model for the splice: vLLM's own Idefics3/SmolVLM vision tower, connector and multimodal processor, with
vLLM's own Qwen3Model as the text model (stock SmolVLM hard-codes Llama, which has no q_norm/k_norm), and a video
modality (vLLM's Idefics3 has none): each clip's sampled frames through the checkpoint's video processor and
SmolVLMProcessor's timestamped text, as the template does for the transformers backend (qwen3_smvl/video.py).

Registered by qwen3_smvl.serve.vllm_plugin through the `vllm.general_plugins` entry point, so vLLM's worker processes
see it too. Imported only where vLLM is installed.
"""
import torch
from torch import nn
from transformers import BatchFeature, SmolVLMProcessor
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
from vllm.multimodal.inputs import MultiModalFieldConfig
from vllm.multimodal.parse import MultiModalDataParser
from vllm.multimodal.processing import PromptReplacement, PromptUpdateDetails

from .. import video
from ..clip_reader import ClipMetadata
from ..processor import TorchvisionFreeSmolVLMProcessor
from ..tokens import VIDEO_TOKEN, token_id
from ..upstream import smolvlm_tile_grid


class Qwen3SmVLProcessingInfo(SmolVLMProcessingInfo):

    def get_hf_processor(self, **kwargs: object) -> SmolVLMProcessor:
        return self.ctx.get_hf_processor(TorchvisionFreeSmolVLMProcessor, **kwargs)

    def get_supported_mm_limits(self):
        return {'image': None, 'video': None}

    def get_data_parser(self) -> MultiModalDataParser:
        parser = super().get_data_parser()
        parser.video_needs_metadata = True  # a clip comes as (frames, metadata): the template has sampled its frames
        return parser

    def _get_image_feature_grid_size(self, *, image_width: int, image_height: int, processor, mm_kwargs):
        kwargs = dict(self.ctx.get_merged_mm_kwargs(mm_kwargs))
        if kwargs.get('do_resize') is False:
            # The processor then keeps the image's size, but transformers' tile count ignores do_resize and the
            # processor's own rounding to whole tiles (the plugin's default image policy sends do_resize=False).
            return smolvlm_tile_grid(processor.image_processor, image_height, image_width, kwargs)
        return processor.image_processor.get_number_of_image_patches(image_height, image_width, kwargs)


class Qwen3SmVLDummyInputsBuilder(Idefics3DummyInputsBuilder):
    """Idefics3's dummy images, plus clips of the most frames at the frame size, for vLLM's memory profiling."""

    def get_dummy_text(self, mm_counts) -> str:
        return super().get_dummy_text(mm_counts) + VIDEO_TOKEN * mm_counts.get('video', 0)

    def get_dummy_mm_data(self, seq_len, mm_counts, mm_options):
        data = super().get_dummy_mm_data(seq_len, mm_counts, mm_options)
        video_processor = self.info.get_hf_processor().video_processor
        sampling, side = video.settings(video_processor), video_processor.max_image_size['longest_edge']
        clips = self._get_dummy_videos(width=side, height=side, num_frames=sampling['num_frames'],
                                       num_videos=mm_counts.get('video', 0), overrides=mm_options.get('video'))
        data['video'] = [(clip, dict(ClipMetadata(total_num_frames=len(clip), fps=sampling['fps'], width=side,
                                                  height=side, duration=len(clip) / sampling['fps'],
                                                  frames_indices=list(range(len(clip))))))
                         for clip in clips]
        return data


class Qwen3SmVLMultiModalProcessor(Idefics3MultiModalProcessor):
    """Idefics3's processor for images; clips by video.process_clip, their frames one image each."""

    def _call_hf_processor(self, hf_data, hf_kwargs) -> BatchFeature:
        hf_data = dict(hf_data)
        clips = hf_data.pop('videos', None) or []
        processed = super()._call_hf_processor(hf_data, hf_kwargs) if hf_data.get('images') else BatchFeature()
        if clips:
            processor = self.info.get_hf_processor(**hf_kwargs)
            size = video.settings(processor.video_processor)['size']
            inputs = [video.process_clip(processor, (frames, ClipMetadata(**metadata)), size)[0]
                      for frames, metadata in clips]
            processed['video_pixel_values'] = torch.cat([i['pixel_values'][0] for i in inputs])
            processed['video_pixel_attention_mask'] = torch.cat([i['pixel_attention_mask'][0] for i in inputs])
            processed['video_num_frames'] = torch.tensor([len(i['pixel_values'][0]) for i in inputs])
        return processed

    def _postprocess_hf_mm_data(self, mm_data, hf_processor_mm_kwargs, processed_data) -> BatchFeature:
        if not mm_data.get('images'):  # Idefics3's reads the images' pixel values, absent for clips alone
            return processed_data
        return super()._postprocess_hf_mm_data(mm_data, hf_processor_mm_kwargs, processed_data)

    def _get_mm_fields_config(self, hf_inputs, hf_processor_mm_kwargs):
        frames = hf_inputs.get('video_num_frames', torch.empty(0))
        return {**super()._get_mm_fields_config(hf_inputs, hf_processor_mm_kwargs),
                'video_pixel_values': MultiModalFieldConfig.flat_from_sizes('video', frames),
                'video_pixel_attention_mask': MultiModalFieldConfig.flat_from_sizes('video', frames),
                'video_num_frames': MultiModalFieldConfig.batched('video', keep_on_cpu=True)}

    def _get_prompt_updates(self, mm_items, hf_processor_mm_kwargs, out_mm_kwargs):
        processor = self.info.get_hf_processor(**hf_processor_mm_kwargs)
        tokenizer = self.info.get_tokenizer()

        def clip_tokens(item_idx: int) -> PromptUpdateDetails:
            frames, metadata = mm_items['video'][item_idx]
            text = video.clip_text(processor, ClipMetadata(**metadata), len(frames))
            return PromptUpdateDetails.select_token_id(tokenizer.encode(text, add_special_tokens=False),
                                                       processor.image_token_id)

        return [*super()._get_prompt_updates(mm_items, hf_processor_mm_kwargs, out_mm_kwargs),
                PromptReplacement(modality='video', target=[token_id(tokenizer, VIDEO_TOKEN)],
                                  replacement=clip_tokens)]


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


@MULTIMODAL_REGISTRY.register_processor(Qwen3SmVLMultiModalProcessor, info=Qwen3SmVLProcessingInfo,
                                        dummy_inputs=Qwen3SmVLDummyInputsBuilder)
class Qwen3SmVLForConditionalGeneration(Idefics3ForConditionalGeneration):

    def __init__(self, *, vllm_config: VllmConfig, prefix: str = ''):
        nn.Module.__init__(self)
        config = vllm_config.model_config.hf_config
        self.config = config
        self.multimodal_config = vllm_config.model_config.multimodal_config
        with self._mark_composite_model(vllm_config, language_targets=Qwen3Model,
                                        tower_targets={'image': (Idefics3VisionTransformer, Idefics3Connector),
                                                       'video': (Idefics3VisionTransformer, Idefics3Connector)}):
            self.model = Qwen3SmVLModel(vllm_config=vllm_config, prefix=maybe_prefix(prefix, 'model'))
        self.image_token_id = config.image_token_id
        self.lm_head = ParallelLMHead(config.text_config.vocab_size, config.text_config.hidden_size,
                                      quant_config=vllm_config.quant_config, prefix=maybe_prefix(prefix, 'lm_head'))
        # Tie exactly when transformers does: by the top-level flag (a trained head must never be replaced).
        if config.tie_word_embeddings:
            self.lm_head = self.lm_head.tie_weights(self.model.text_model.embed_tokens)
        self.logits_processor = LogitsProcessor(config.text_config.vocab_size)

    def embed_multimodal(self, **kwargs: object):
        if 'video_pixel_values' not in kwargs:
            return super().embed_multimodal(**kwargs)
        features = self.model.connector(self.model.image_pixels_to_features(
            kwargs['video_pixel_values'], pixel_attention_mask=kwargs['video_pixel_attention_mask']))
        return [clip.flatten(0, 1) for clip in features.split(kwargs['video_num_frames'].tolist())]
