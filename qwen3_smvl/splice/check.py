"""Does the model see? The check that a spliced or trained checkpoint must pass.

A model whose prompt carries image tokens under another id than the one the merge reads still trains
(loss falls on text alone) but is blind. Two checks catch that: the image tokens in the prompt must be
exactly the rows of image features, counted with the id the merge reads (model.config.image_token_id), and a real
image must change the logits compared with a blank one.
"""
import torch
from PIL import Image, ImageDraw

from ..tokens import token_id


class BlindModelError(RuntimeError):
    """The images do not reach the language model."""


def probe_image(size=(64, 48)) -> Image.Image:
    """A deterministic picture with colour, edges and shapes."""
    img = Image.new('RGB', size, (240, 240, 240))
    draw = ImageDraw.Draw(img)
    w, h = size
    draw.ellipse((2, 2, w // 2, h // 2), fill=(220, 30, 30))
    draw.rectangle((w // 2, h // 2, w - 3, h - 3), fill=(30, 60, 220))
    draw.polygon([(w // 2, 2), (w - 3, h // 3), (w // 2 + 4, h // 2)], fill=(30, 180, 60))
    return img


def blank_image(size=(64, 48)) -> Image.Image:
    return Image.new('RGB', size, (255, 255, 255))


def image_prompt(processor, question: str = 'Describe the image.') -> str:
    messages = [{'role': 'user', 'content': [{'type': 'image'}, {'type': 'text', 'text': question}]}]
    return processor.apply_chat_template(messages, add_generation_prompt=True)


@torch.no_grad()
def check_sees(model, processor) -> dict:
    """Raise BlindModelError unless image tokens and image features line up and the image changes the logits."""
    merge_id = model.model.config.image_token_id  # the id SmolVLMModel.inputs_merger reads
    prompt_id = token_id(processor.tokenizer, processor.image_token)
    if merge_id != prompt_id:
        raise BlindModelError(f'config.image_token_id is {merge_id} but the processor writes {processor.image_token!r} '
                              f'= {prompt_id}: the images would never be merged')
    text = image_prompt(processor)
    last = {}
    for name, image in (('image', probe_image()), ('blank', blank_image())):
        inputs = processor(text=[text], images=[[image]], return_tensors='pt', do_image_splitting=False)
        features = model.model.get_image_features(inputs['pixel_values'], inputs['pixel_attention_mask']).pooler_output
        rows = features.shape[0] * features.shape[1]
        in_prompt = int((inputs['input_ids'] == merge_id).sum())
        if in_prompt != rows:
            raise BlindModelError(f'the prompt has {in_prompt} image tokens (id {merge_id}) for {rows} rows of image '
                                  'features')
        last[name] = model(**inputs).logits[0, -1].float()
    diff = (last['image'] - last['blank']).abs().max().item()
    if diff < 1e-6:
        raise BlindModelError(f'a real and a blank image give the same next-token logits (max diff {diff:.2e})')
    return {'image_tokens': rows, 'max_logit_diff_image_vs_blank': diff}


def run_self_check(model_dir) -> dict:
    from transformers import AutoModelForImageTextToText, AutoProcessor
    processor = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype='auto').eval()
    return check_sees(model, processor)
