"""swift template `qwen3_smvl`: Qwen3's chat format with SmolVLM2's image tiles inside Qwen's vision tokens.

The text part is swift's own Qwen3 (hybrid thinking, hermes tool calls) template. Each image becomes one
<|image_pad|>, which `_encode` expands with the checkpoint's own processor (SmolVLMProcessor.replace_image_token),
so the ids equal what the checkpoint's jinja chat template plus processor produce (tests/test_template.py).
Grounding rows (swift's `objects`, `<ref-object>`, `<bbox>`) render in Qwen's ref and box tokens, boxes in thousandths
of the original image size, upright (docs/grounding.md).
"""
import logging
import os
from typing import Any, Dict, List, Literal

import torch
from swift.agent_template import agent_template_map
from swift.agent_template.hermes import HermesAgentTemplate
from swift.template import MaxLengthError, Template, register_template
from swift.template.template_inputs import StdTemplateInputs
from swift.template.templates.qwen import Qwen3MixedTemplateMeta
from swift.template.utils import Context, findall
from swift.utils import SafeMediaPath, get_env_args

from qwen3_smvl.grounding import box_outside_image
from qwen3_smvl.images import ImageError, describe, fit_within, open_image, upscales
from qwen3_smvl.sampling import top_k_generate_kwargs
from qwen3_smvl import video
from qwen3_smvl.tokens import (BOX_END, BOX_START, IMAGE_TOKEN, OBJECT_REF_END, OBJECT_REF_START, VIDEO_TOKEN,
                                token_id)
from qwen3_smvl.train import bad_rows

TEMPLATE_TYPE = 'qwen3_smvl'
AGENT_TEMPLATE = 'qwen3_smvl_hermes'
logger = logging.getLogger('qwen3_smvl')


class BadSampleError(ValueError):
    """A row that cannot be trained on; `cause` says why in a few words."""

    def __init__(self, message: str, cause: str):
        super().__init__(message)
        self.cause = cause


class Qwen3SmVLTemplate(Template):
    placeholder_tokens = [IMAGE_TOKEN]
    # Packed rows keep their tiles in row order, and SmolVLM's merge fills image tokens in that order; the rows stay
    # apart by their position ids (flash-attention, or transformers' packed mask for sdpa/eager: train/packing.py).
    support_padding_free = True
    # Samples refused because their image tokens would not fit max_length, in this process. A set, since swift
    # retries a failed encode (three times) before giving up on the sample.
    dropped_too_long = set()

    def init_processor(self, processor) -> None:
        super().init_processor(processor)
        if processor is None:
            return
        self.image_token_id = token_id(self.tokenizer, IMAGE_TOKEN)
        # Image settings from the environment, as Qwen-VL's MAX_PIXELS: the same variables drive sft and deploy.
        self.image_kwargs = {}
        longest_edge = get_env_args('SMVL_LONGEST_EDGE', int, None)
        if longest_edge:
            self.image_kwargs['size'] = {'longest_edge': longest_edge}
        splitting = get_env_args('SMVL_IMAGE_SPLITTING', bool, None)
        if splitting is not None:
            self.image_kwargs['do_image_splitting'] = splitting
        self.max_images = get_env_args('SMVL_MAX_IMAGES', int, None)  # per sample; unset: no limit
        self.video_token_id = token_id(self.tokenizer, VIDEO_TOKEN)
        self.video_settings = None  # none where the processor has no video half
        if getattr(processor, 'video_processor', None) is not None:  # SMVL_VIDEO_FPS, _FRAMES, _SIZE (video.py)
            self.video_settings = video.settings(processor.video_processor)
        # SMVL_UPSCALE (qwen3_smvl.images.upscales): SmolVLM2's resize of every image to longest_edge by default, the
        # layout llama.cpp can reproduce; false: only larger images shrink. sft, infer and deploy read the same value.
        self.upscale = upscales()
        if not self.upscale:
            self.longest_edge = longest_edge or processor.image_processor.size['longest_edge']
            self.image_kwargs['do_resize'] = False

    def replace_tag(self, media_type: Literal['image', 'video', 'audio'], index: int,
                    inputs: StdTemplateInputs) -> List[Context]:
        if media_type == 'audio':
            raise ValueError(f'{TEMPLATE_TYPE} takes images and videos only; this sample has an audio')
        return [IMAGE_TOKEN if media_type == 'image' else VIDEO_TOKEN]

    def replace_ref(self, ref: str, index: int, inputs: StdTemplateInputs) -> List[Context]:
        return [f'{OBJECT_REF_START}{ref}{OBJECT_REF_END}']

    def replace_bbox(self, bbox: List[int], index: int, inputs: StdTemplateInputs) -> List[Context]:
        return [f'{BOX_START}{self._get_bbox_str(bbox)}{BOX_END}']  # thousandths (norm1000) of the original size

    def encode(self, inputs, *args, **kwargs):
        try:
            return super().encode(inputs, *args, **kwargs)
        except Exception as e:
            if self.is_training:  # one line per bad row, and its cause counted (qwen3_smvl/train/bad_rows.py)
                too_long = isinstance(e, MaxLengthError)  # already logged with its token counts in _encode
                cause = bad_rows.TOO_LONG if too_long else getattr(e, 'cause', type(e).__name__)
                bad_rows.record(sample_name(inputs), cause, str(e), log=not too_long)
            raise

    def _preprocess_inputs(self, inputs: StdTemplateInputs) -> None:
        # an assistant turn may also be token ids (swift rlhf re-encodes each GRPO rollout so): only text is empty
        if self.is_training and any(m['role'] == 'assistant' and (m['content'] is None or isinstance(m['content'], str)
                                                                  and not m['content'].strip())
                                    for m in inputs.messages):
            raise BadSampleError(f'the sample {sample_name(inputs)} has an empty assistant turn',
                                 'empty assistant turn')
        self._replace_image_tags(inputs)  # swift's older <img>path</img> form: those images are decoded below too
        tags = sum(m['content'].count('<image>') for m in inputs.messages if isinstance(m['content'], str))
        if tags > len(inputs.images):  # swift would keep the extra tags as text
            raise BadSampleError(f'the sample {sample_name(inputs)} has {tags} <image> tags for {len(inputs.images)} '
                                 'images', 'image tags do not match images')
        if self.max_images is not None and len(inputs.images) > self.max_images:
            raise ValueError(f'the sample {sample_name(inputs)} has {len(inputs.images)} images; at most '
                             f'{self.max_images} are allowed (SMVL_MAX_IMAGES)')
        # Decode (and size-check) every image first, so that a bad one names its sample instead of a stack trace.
        files = [describe(image) for image in inputs.images]  # a box outside its image names the file too
        for i, image in enumerate(inputs.images):
            if isinstance(image, str) and not image.startswith(('data:', 'http://', 'https://')) \
                    and not os.path.isfile(image):
                # swift deploy checks files against SWIFT_MEDIA_ALLOWED_DIRS but passes a missing path on as base64:
                # refuse it with the same message, so that a caller cannot tell which paths exist
                SafeMediaPath.check(image)
            try:
                if isinstance(image, str) and image.startswith(('http://', 'https://')):
                    from swift.template.vision_utils import load_file
                    image = load_file(image).getvalue()
                inputs.images[i] = open_image(image)
            except ImageError as e:
                raise ImageError(f'image {i} of the sample {sample_name(inputs)}: {e}', e.cause) from None
        problem = box_outside_image(inputs.objects, [image.size for image in inputs.images], files)  # upright sizes
        if problem:
            raise BadSampleError(f'the sample {sample_name(inputs)}: {problem}', 'box outside the image')
        self._open_videos(inputs)
        if inputs.images:
            inputs.mm_processor_kwargs.update(self.image_kwargs)  # the same settings for vLLM's copy of the processor
        super()._preprocess_inputs(inputs)  # reads grounding boxes' image sizes: shrink only after it
        if not self.upscale:
            inputs.images = [fit_within(image, self.longest_edge) for image in inputs.images]

    def _open_videos(self, inputs: StdTemplateInputs) -> None:
        """Decode (and limit-check) every clip as the checkpoint's video processor samples it (qwen3_smvl/video.py)."""
        tags = sum(m['content'].count('<video>') for m in inputs.messages if isinstance(m['content'], str))
        if tags > len(inputs.videos):
            raise BadSampleError(f'the sample {sample_name(inputs)} has {tags} <video> tags for {len(inputs.videos)} '
                                 'videos', 'video tags do not match videos')
        if inputs.videos and self.video_settings is None:
            raise ValueError('this checkpoint\'s processor has no video processor: images only')
        from swift.template.vision_utils import load_file
        for i, clip in enumerate(inputs.videos):
            if isinstance(clip, str) and not clip.startswith(('data:', 'http://', 'https://')) \
                    and len(clip) <= 4096 and not os.path.isfile(clip):
                SafeMediaPath.check(clip)  # as for images: the same refusal whether or not the path exists
            try:
                inputs.videos[i] = video.open_clip(clip, self.processor.video_processor, self.video_settings['fps'],
                                                   self.video_settings['num_frames'],
                                                   fetch=lambda url: load_file(url).getvalue())
            except video.VideoError as e:
                raise video.VideoError(f'video {i} of the sample {sample_name(inputs)}: {e}', e.cause) from None
            if self.mode == 'vllm':  # the sampled frames and their metadata, as vLLM takes a clip (serve/vllm_model.py)
                inputs.videos[i] = (inputs.videos[i][0], dict(inputs.videos[i][1]))

    def _encode(self, inputs: StdTemplateInputs) -> Dict[str, Any]:
        encoded = super()._encode(inputs)
        if not inputs.images and not inputs.videos:
            return encoded
        processor = self.processor
        image_inputs = processor.image_processor([inputs.images], return_tensors='pt', return_row_col_info=True,
                                                 **self.image_kwargs) if inputs.images else None
        clips = [video.process_clip(processor, clip, self.video_settings['size']) for clip in inputs.videos]
        input_ids, labels, loss_scale = encoded['input_ids'], encoded['labels'], encoded.get('loss_scale')
        idx_list = findall(input_ids, self.image_token_id)
        if len(idx_list) != len(inputs.images):
            raise BadSampleError(f'the sample {sample_name(inputs)} has {len(idx_list)} image tags for '
                                 f'{len(inputs.images)} images', 'image tags do not match images')
        idx_list = sorted(idx_list + findall(input_ids, self.video_token_id))  # clips' frames are images too
        kinds = ['video' if input_ids[i] == self.video_token_id else 'image' for i in idx_list]

        def expansion(i: int) -> List[int]:
            k = kinds[:i].count(kinds[i])  # the k-th image, or the k-th clip
            text = processor.replace_image_token(image_inputs, k) if kinds[i] == 'image' else clips[k][1]
            return self._tokenize(text)

        input_ids, labels, loss_scale = self._extend_tokens(input_ids, labels, loss_scale, idx_list, expansion)
        if self.max_length is not None and len(input_ids) > self.max_length:
            # Never cut an image: tile markers and features would no longer line up. Drop the sample instead.
            name, n_image = sample_name(inputs), input_ids.count(self.image_token_id)
            if (name, len(input_ids)) not in self.dropped_too_long:
                self.dropped_too_long.add((name, len(input_ids)))
                logger.warning(f'dropping the sample {name}: {n_image} image tokens + {len(input_ids) - n_image} '
                               f'text tokens > max_length {self.max_length} ({len(self.dropped_too_long)} dropped so '
                               'far in this process; raise MAX_LENGTH (--max_length), lower SMVL_LONGEST_EDGE or '
                               'SMVL_VIDEO_FRAMES)')
            raise MaxLengthError(f'image tokens would be cut by max_length {self.max_length}')
        pixel_values, pixel_attention_mask = video.media_in_text_order(kinds, image_inputs, [c[0] for c in clips])
        encoded.update(input_ids=input_ids, labels=labels, loss_scale=loss_scale, pixel_values=pixel_values,
                       pixel_attention_mask=pixel_attention_mask)
        return encoded

    def _data_collator_mm_data(self, batch: List[Dict[str, Any]]) -> Dict[str, Any]:
        # All tiles of the batch, in order, as one row: SmolVLM's merge fills image tokens block by block. A packed
        # row (padding_free) arrives here twice, the second time already one row: flatten back to tiles first.
        rows = [b for b in batch if b.get('pixel_values') is not None]
        if not rows:
            return {}
        pixel_values = torch.cat([b['pixel_values'].reshape(-1, *b['pixel_values'].shape[-3:]) for b in rows])
        masks = torch.cat([b['pixel_attention_mask'].reshape(-1, *b['pixel_attention_mask'].shape[-2:]) for b in rows])
        return {'pixel_values': pixel_values[None], 'pixel_attention_mask': masks[None]}

    def _post_encode(self, model, inputs: Dict[str, Any]) -> Dict[str, Any]:
        if not self.is_training:
            return inputs
        # Embeddings and image features are merged here for every training batch (as swift's Qwen2-VL does), so every
        # rank runs the same modules in the same order whatever its batch holds: ZeRO-3 gathers parameters in it.
        base = self.get_base_model(model).model
        input_ids = inputs['input_ids']
        inputs_embeds = base.get_input_embeddings()(input_ids)
        pixel_values = inputs.get('pixel_values')
        if pixel_values is None:
            # A text-only batch still runs the vision tower on one blank tile (times 0): under ZeRO-3 every rank must
            # gather the same parameters, and under DDP every trainable parameter must get a gradient.
            size = base.config.vision_config.image_size
            features = base.get_image_features(inputs_embeds.new_zeros(1, 1, 3, size, size)).pooler_output
            return {'inputs_embeds': inputs_embeds + features.mean().to(inputs_embeds.dtype) * 0.}
        features = base.get_image_features(pixel_values, inputs.get('pixel_attention_mask')).pooler_output
        return {'inputs_embeds': base.inputs_merger(input_ids, inputs_embeds, features.to(inputs_embeds.dtype))}

    def generate(self, model, *args, **kwargs):
        # Top-k sampling draws among the k tokens, not the 151,936 (infer, deploy and GRPO rollouts): sampling.py.
        return super().generate(model, *args, **top_k_generate_kwargs(kwargs))


class Qwen3HermesAgentTemplate(HermesAgentTemplate):
    """swift's hermes, without the blank line it puts before '# Tools' when there is no system prompt (Qwen3's jinja
    has none)."""

    def _format_tools(self, tools, system=None, user_message=None) -> str:
        text = super()._format_tools(tools, system, user_message)
        return text if system else text.lstrip('\n')


def sample_name(row) -> str:
    """Enough of a row (a dataset dict or StdTemplateInputs) to find it: its id if it has one, else its first question
    and its first image path."""
    row = getattr(row, 'chosen', row)  # swift's TemplateInputs (rlhf: chosen and rejected sides) names its chosen
    if isinstance(row, dict):
        row_id, messages, images = row.get('id'), row.get('messages') or [], row.get('images') or []
    else:
        row_id, messages, images = (row.extra_kwargs or {}).get('id'), row.messages, row.images
    if row_id is not None:
        return f'id={row_id!r}'
    question = next((m['content'] for m in messages if m['role'] == 'user' and isinstance(m['content'], str)), None)
    image = images[0] if images and isinstance(images[0], str) else ''
    return (repr(question[:60]) if question is not None else '<no user text>') + (f' ({image})' if image else '')


agent_template_map[AGENT_TEMPLATE] = Qwen3HermesAgentTemplate
register_template(
    Qwen3MixedTemplateMeta(TEMPLATE_TYPE, template_cls=Qwen3SmVLTemplate, is_thinking=True, agent_template=AGENT_TEMPLATE))
