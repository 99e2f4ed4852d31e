"""The swift template against the checkpoint's own jinja template + processor, labels, limits and batching."""
import copy
import json
import logging
import os

import pytest
import torch
from PIL import Image
from swift.utils import import_external_file

from conftest import REPO

register = import_external_file(str(REPO / 'plugin' / 'register.py'))
template_module = import_external_file(str(REPO / 'plugin' / 'template.py'))

RED = Image.new('RGB', (40, 30), (255, 0, 0))
BLUE = Image.new('RGB', (90, 20), (0, 0, 255))
TOOLS = [{'type': 'function', 'function': {'name': 'get_weather', 'description': '查询天气',
                                           'parameters': {'type': 'object', 'properties': {'city': {'type': 'string'}}}}}]


def img(text=None):
    return {'type': 'image'} if text is None else {'type': 'text', 'text': text}


# (swift request, the same conversation for the jinja template, images, jinja kwargs)
CASES = {
    'one image, thinking off': (
        {'messages': [{'role': 'user', 'content': '<image>图中有什么？'}]},
        [{'role': 'user', 'content': [img(), img('图中有什么？')]}], [RED], {'enable_thinking': False}),
    'one image, thinking on': (
        {'messages': [{'role': 'user', 'content': '<image>图中有什么？'}]},
        [{'role': 'user', 'content': [img(), img('图中有什么？')]}], [RED], {'enable_thinking': True}),
    'system, multi-turn, history thinking, several images per turn': (
        {'messages': [{'role': 'system', 'content': '你是助手。'}, {'role': 'user', 'content': '<image>这是什么颜色？'},
                      {'role': 'assistant', 'content': '<think>\n看图\n</think>\n\n红色'},
                      {'role': 'user', 'content': '比较<image>和<image>'}]},
        [{'role': 'system', 'content': '你是助手。'}, {'role': 'user', 'content': [img(), img('这是什么颜色？')]},
         {'role': 'assistant', 'content': '<think>\n看图\n</think>\n\n红色'},
         {'role': 'user', 'content': [img('比较'), img(), img('和'), img()]}], [RED, BLUE, RED], {'enable_thinking': False}),
    'text only': (
        {'messages': [{'role': 'user', 'content': '你好'}]},
        [{'role': 'user', 'content': '你好'}], [], {'enable_thinking': True}),
    'tools, tool call and tool response': (
        {'messages': [{'role': 'user', 'content': '北京天气？'},
                      {'role': 'tool_call', 'content': json.dumps({'name': 'get_weather', 'arguments': {'city': '北京'}},
                                                                 ensure_ascii=False)},
                      {'role': 'tool_response', 'content': '晴'}], 'tools': TOOLS},
        [{'role': 'user', 'content': '北京天气？'},
         {'role': 'assistant', 'content': '', 'tool_calls': [{'type': 'function', 'function': {
             'name': 'get_weather', 'arguments': {'city': '北京'}}}]}, {'role': 'tool', 'content': '晴'}],
        [], {'enable_thinking': True, 'tools': TOOLS}),
    'grounding: swift objects in Qwen\'s ref and box tokens': (
        {'messages': [{'role': 'user', 'content': '<image>框出<ref-object>'},
                      {'role': 'assistant', 'content': '<ref-object><bbox>'}, {'role': 'user', 'content': '还有吗？'}],
         'objects': {'ref': ['红色圆形', '红色圆形'], 'bbox': [[4, 3, 20, 15]]}},  # RED is 40x30 pixels
        [{'role': 'user', 'content': [img(), img('框出<|object_ref_start|>红色圆形<|object_ref_end|>')]},
         {'role': 'assistant',
          'content': '<|object_ref_start|>红色圆形<|object_ref_end|><|box_start|>(100,100),(500,500)<|box_end|>'},
         {'role': 'user', 'content': '还有吗？'}], [RED], {'enable_thinking': False}),
}


@pytest.fixture(scope='module')
def processor(tiny_splice):
    from swift.model import get_model_processor
    return get_model_processor(str(tiny_splice), model_type=register.MODEL_TYPE, load_model=False)[1]


def make_template(processor, mode='transformers', **kwargs):
    from swift.template import get_template
    template = get_template(processor, template_type=template_module.TEMPLATE_TYPE, **kwargs)
    template.set_mode(mode)
    return template


@pytest.mark.parametrize('case', list(CASES))
def test_swift_ids_equal_jinja_plus_processor(processor, case):
    assert_swift_ids_equal_jinja_plus_processor(processor, case)


def assert_swift_ids_equal_jinja_plus_processor(processor, case):
    request, messages, images, kwargs = CASES[case]
    request = dict(request, images=images, chat_template_kwargs={'enable_thinking': kwargs['enable_thinking']})
    swift_ids = make_template(processor).encode(request)['input_ids']
    text = processor.apply_chat_template(messages, add_generation_prompt=True, **kwargs)
    jinja_ids = processor(text=[text], images=[images] if images else None)['input_ids'][0]  # the default policy
    assert swift_ids == list(jinja_ids)
    image_id = processor.tokenizer.convert_tokens_to_ids('<|image_pad|>')
    assert swift_ids.count(image_id) % processor.image_seq_len == 0
    assert (swift_ids.count(image_id) > 0) == bool(images)


def test_labels_only_on_the_answer(processor, tiny_splice):
    template = make_template(processor, mode='train')
    image = str(tiny_splice.parent / 'red.png')
    RED.save(image)
    encoded = template.encode({'messages': [{'role': 'user', 'content': '<image>图中的圆形是什么颜色？'},
                                            {'role': 'assistant', 'content': '红色'}], 'images': [image]})
    ids, labels = encoded['input_ids'], encoded['labels']
    labelled = [t for t, lab in zip(ids, labels) if lab != -100]
    print('labelled tokens:', repr(processor.tokenizer.decode(labelled)))
    assert processor.tokenizer.decode(labelled) == '<think>\n\n</think>\n\n红色<|im_end|>\n'
    assert all(lab == -100 or lab == t for t, lab in zip(ids, labels))
    image_id = processor.tokenizer.convert_tokens_to_ids('<|image_pad|>')
    assert all(lab == -100 for t, lab in zip(ids, labels) if t == image_id)
    assert encoded['pixel_values'].shape[1:] == (3, 32, 32)


def test_whole_text_loss_still_skips_images(processor):
    template = make_template(processor, mode='train', loss_scale='all')
    encoded = template.encode({'messages': [{'role': 'user', 'content': '<image>图里是什么？'},
                                            {'role': 'assistant', 'content': '红色'}], 'images': [RED]})
    ids, labels = encoded['input_ids'], encoded['labels']
    image_id = processor.tokenizer.convert_tokens_to_ids('<|image_pad|>')
    assert all(lab == -100 for t, lab in zip(ids, labels) if t == image_id)
    labelled = processor.tokenizer.decode([t for t, lab in zip(ids, labels) if lab != -100])
    assert '图里是什么？' in labelled and labelled.endswith('红色<|im_end|>\n')  # the prompt is learned too


def test_sample_whose_image_would_be_cut_is_dropped_with_a_count(processor, caplog):
    from swift.template import MaxLengthError
    before = len(template_module.Qwen3SmVLTemplate.dropped_too_long)
    template = make_template(processor, mode='train', max_length=40)
    with caplog.at_level(logging.WARNING, logger='qwen3_smvl'), pytest.raises(MaxLengthError):
        template.encode({'messages': [{'role': 'user', 'content': '<image>图里是什么？'},
                                      {'role': 'assistant', 'content': '红色'}], 'images': [RED], 'id': 'r1'})
    assert len(template_module.Qwen3SmVLTemplate.dropped_too_long) == before + 1  # once, though swift retries
    assert caplog.text.count("dropping the sample id='r1'") == 1 and 'image tokens' in caplog.text
    # truncation strategies that would cut the sequence do not cut images either
    left = make_template(processor, mode='train', max_length=40, truncation_strategy='left')
    with pytest.raises(MaxLengthError):
        left.encode({'messages': [{'role': 'user', 'content': '<image>x'}, {'role': 'assistant', 'content': 'y'}],
                     'images': [RED]})
    # a text-only sample of the same length is the tokenizer's business, not ours
    assert make_template(processor, mode='train', max_length=40).encode(
        {'messages': [{'role': 'user', 'content': '你好'}, {'role': 'assistant', 'content': '你好'}]})['input_ids']


@pytest.mark.parametrize('payload,reason', [
    (b'\x89PNG\r\n\x1a\nnot an image', 'not a readable image'),
    (None, 'image file not found'),
])
def test_bad_image_names_its_row(processor, tmp_path, payload, reason):
    from qwen3_smvl.images import ImageError
    path = tmp_path / 'bad.png'
    if payload is not None:
        path.write_bytes(payload)
    with pytest.raises(ImageError) as err:
        make_template(processor, mode='train').encode({
            'messages': [{'role': 'user', 'content': '<image>图里是什么？'}, {'role': 'assistant', 'content': '红色'}],
            'images': [str(path)], 'id': 'row-7'})
    assert "id='row-7'" in str(err.value) and reason in str(err.value) and str(path) in str(err.value)


def test_huge_image_refused_before_decoding(processor, tmp_path, monkeypatch):
    import qwen3_smvl.images as images
    monkeypatch.setattr(images, 'MAX_IMAGE_PIXELS', 100 * 100)
    path = tmp_path / 'big.png'
    Image.new('RGB', (200, 200)).save(path)
    with pytest.raises(images.ImageError, match='200x200 = 40000 pixels, over the 10000-pixel limit'):
        make_template(processor, mode='train').encode({
            'messages': [{'role': 'user', 'content': '<image>?'}, {'role': 'assistant', 'content': '!'}],
            'images': [str(path)]})


@pytest.fixture(scope='module')
def clip(tmp_path_factory):
    """A moving-circle mp4 of the synthetic video set (4 s at 4 fps: SmolVLM2's sampling keeps 4 frames)."""
    import random
    from qwen3_smvl.datasets.synthetic_video import FPS, moving_circle, write_mp4
    pictures, _, _ = moving_circle(64, random.Random(0))
    return write_mp4(tmp_path_factory.mktemp('clip') / 'circle.mp4', [p for p in pictures for _ in range(FPS)])


def vid(text=None):
    return {'type': 'video'} if text is None else {'type': 'text', 'text': text}


# (swift request, the same conversation for the jinja template, whether an image comes first, thinking)
VIDEO_CASES = {
    'one video, thinking off': (
        {'messages': [{'role': 'user', 'content': '<video>圆形往哪个方向移动？'}]},
        [{'role': 'user', 'content': [vid(), vid('圆形往哪个方向移动？')]}], False, False),
    'image then video, multi-turn, thinking on': (
        {'messages': [{'role': 'user', 'content': '<image>这是什么颜色？'}, {'role': 'assistant', 'content': '红色'},
                      {'role': 'user', 'content': '<video>圆形往哪个方向移动？'}]},
        [{'role': 'user', 'content': [img(), img('这是什么颜色？')]}, {'role': 'assistant', 'content': '红色'},
         {'role': 'user', 'content': [vid(), vid('圆形往哪个方向移动？')]}], True, True),
}


@pytest.mark.parametrize('case', list(VIDEO_CASES))
def test_video_ids_equal_jinja_plus_processor(processor, clip, case):
    """The swift template decodes and samples the clip itself; the reference gets every frame of it and lets the
    checkpoint's processor sample (SmolVLM2's frame choice) and expand it, with the checkpoint's jinja template passed
    explicitly (without it, a video part switches SmolVLMProcessor to SmolVLM's own English-role template)."""
    from transformers.video_utils import load_video
    request, messages, with_image, thinking = VIDEO_CASES[case]
    images = [RED] if with_image else []
    encoded = make_template(processor).encode(dict(request, images=images, videos=[str(clip)],
                                                   chat_template_kwargs={'enable_thinking': thinking}))
    frames, metadata = load_video(str(clip), backend='pyav')  # all 16 frames
    text = processor.apply_chat_template(messages, chat_template=processor.chat_template, add_generation_prompt=True,
                                         enable_thinking=thinking)
    reference = processor(text=[text], images=[images] if images else None, videos=[[frames]],
                          video_metadata=[[metadata]], do_sample_frames=True, return_tensors='pt')
    assert encoded['input_ids'] == reference['input_ids'][0].tolist()
    decoded = processor.tokenizer.decode(encoded['input_ids'])
    assert 'series of four frames from a 0:00:04 [H:MM:SS] video' in decoded
    assert [line[:len('Frame from 00:00:')] for line in decoded.splitlines() if line.startswith('Frame from')] == \
        ['Frame from 00:00:', 'Frame from 00:01:', 'Frame from 00:02:', 'Frame from 00:03:']
    image_id = processor.tokenizer.convert_tokens_to_ids('<|image_pad|>')
    n_tiles = encoded['pixel_values'].shape[0]
    assert encoded['input_ids'].count(image_id) == n_tiles * processor.image_seq_len
    # the clip's frames follow the image's tiles, in the text's order, and equal the processor's
    torch.testing.assert_close(encoded['pixel_values'][n_tiles - 4:], reference['pixel_values'][0])
    if with_image:
        alone = make_template(processor).encode({'messages': [{'role': 'user', 'content': '<image>?'}],
                                                 'images': [RED]})['pixel_values']
        torch.testing.assert_close(encoded['pixel_values'][:n_tiles - 4], alone)


def test_video_as_a_list_of_frame_images(processor, tmp_path):
    """A row whose video is a list of frame files: the frames are taken 1/SMVL_VIDEO_FPS s apart (the checkpoint's 1 fps)."""
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    paths = []
    for k, c in enumerate(colours):
        paths.append(str(tmp_path / f'{k}.png'))
        Image.new('RGB', (48, 32), c).save(paths[-1])
    encoded = make_template(processor).encode({'messages': [{'role': 'user', 'content': '<video>先出现的是什么颜色？'}],
                                               'videos': [paths]})
    decoded = processor.tokenizer.decode(encoded['input_ids'])
    assert 'series of three frames from a 0:00:03 [H:MM:SS] video' in decoded and 'Frame from 00:02:' in decoded
    assert encoded['pixel_values'].shape[0] == 3
    assert encoded['pixel_values'][0, 0].mean() > encoded['pixel_values'][1, 0].mean()  # red first, then green


def test_video_knobs_and_a_clip_too_long_is_dropped(processor, clip, monkeypatch, caplog):
    from swift.template import MaxLengthError
    # datasets' map(num_proc=...) rebinds os.environ to a copy (arrow_dataset.py: `os.environ = prev_env`): the knobs
    # must be read from the current os.environ, not one bound at import (this failed in the whole suite once)
    monkeypatch.setattr(os, 'environ', copy.deepcopy(os.environ))
    monkeypatch.setenv('SMVL_VIDEO_FRAMES', '2')
    row = {'messages': [{'role': 'user', 'content': '<video>?'}, {'role': 'assistant', 'content': '向左'}],
           'videos': [str(clip)], 'id': 'clip-9'}
    encoded = make_template(processor, mode='train').encode(json.loads(json.dumps(row)))
    assert encoded['pixel_values'].shape[0] == 2 and 'series of two frames' in processor.tokenizer.decode(
        encoded['input_ids'])
    monkeypatch.setenv('SMVL_VIDEO_FRAMES', '8')
    with caplog.at_level(logging.WARNING, logger='qwen3_smvl'), pytest.raises(MaxLengthError):
        make_template(processor, mode='train', max_length=60).encode(json.loads(json.dumps(row)))
    assert "dropping the sample id='clip-9'" in caplog.text and 'SMVL_VIDEO_FRAMES' in caplog.text


def test_audio_is_refused(processor):
    with pytest.raises(ValueError, match='takes images and videos only'):
        make_template(processor).encode({'messages': [{'role': 'user', 'content': '<audio>?'}], 'audios': ['a.wav']})


def test_mixed_batch_matches_single_samples(processor, tiny_splice):
    """Images of several samples go to the model as one row of tiles: each sample must see its own."""
    from transformers import AutoModelForImageTextToText
    model = AutoModelForImageTextToText.from_pretrained(tiny_splice).eval()
    template = make_template(processor, mode='train')
    samples = [
        {'messages': [{'role': 'user', 'content': '<image>图里是什么？'}, {'role': 'assistant', 'content': '红色'}],
         'images': [RED]},
        {'messages': [{'role': 'user', 'content': '你好'}, {'role': 'assistant', 'content': '你好！'}]},
        {'messages': [{'role': 'user', 'content': '<image><image>两张图一样吗？'}, {'role': 'assistant', 'content': '不一样'}],
         'images': [BLUE, RED]},
    ]
    encoded = [template.encode(s) for s in samples]
    batch = template.data_collator(encoded)
    assert batch['pixel_values'].shape[0] == 1
    assert batch['pixel_values'].shape[1] == sum(e['pixel_values'].shape[0] for e in encoded if 'pixel_values' in e)
    keys = ('input_ids', 'attention_mask', 'pixel_values', 'pixel_attention_mask')
    with torch.no_grad():
        batched = model(**{k: batch[k] for k in keys}).logits
        for row, e in enumerate(encoded):
            single = template.data_collator([e])
            alone = model(**{k: single[k] for k in keys if k in single}).logits[0]
            torch.testing.assert_close(batched[row, :alone.shape[0]], alone, rtol=1e-4, atol=1e-4)


def test_packed_row_equals_its_samples_one_by_one(processor, tiny_splice):
    """padding_free/packing: one row of samples whose ids, labels, position ids and merged image features are those
    of each sample encoded alone (flash-attention then keeps them apart by position ids; not run here: none)."""
    from transformers import AutoModelForImageTextToText
    model = AutoModelForImageTextToText.from_pretrained(tiny_splice).eval()
    assert template_module.Qwen3SmVLTemplate.support_padding_free  # swift sft refuses --padding_free otherwise
    template = make_template(processor, mode='train', padding_free=True)
    samples = [
        {'messages': [{'role': 'user', 'content': '<image><image>两张图一样吗？'}, {'role': 'assistant', 'content': '不一样'}],
         'images': [BLUE, RED]},
        {'messages': [{'role': 'user', 'content': '你好'}, {'role': 'assistant', 'content': '你好！'}]},
        {'messages': [{'role': 'user', 'content': '<image>图里是什么？'}, {'role': 'assistant', 'content': '红色'}],
         'images': [RED]},
    ]
    encoded = [template.encode(s, return_length=True) for s in samples]  # as swift's dataset encoding calls it
    packed = template.data_collator(list(encoded))  # swift replaces the list's rows with the packed one
    lengths = [len(e['input_ids']) for e in encoded]
    assert [e['length'] for e in encoded] == lengths  # image tokens counted: swift bins packed rows by it
    assert packed['input_ids'].shape == packed['labels'].shape == packed['position_ids'].shape == (1, sum(lengths))
    assert packed['input_ids'][0].tolist() == sum((e['input_ids'] for e in encoded), [])
    assert packed['labels'][0].tolist() == sum((e['labels'] for e in encoded), [])
    assert packed['position_ids'][0].tolist() == sum((list(range(n)) for n in lengths), [])
    tiles = [e['pixel_values'].shape[0] for e in encoded if 'pixel_values' in e]
    assert packed['pixel_values'].shape[:2] == packed['pixel_attention_mask'].shape[:2] == (1, sum(tiles))
    # the embeddings the model gets: image features on exactly each sample's own image-token positions
    with torch.no_grad():
        merged = template._post_encode(model, packed)['inputs_embeds'][0]
        padded = make_template(processor, mode='train')
        alone = [template._post_encode(model, padded.data_collator([e]))['inputs_embeds'][0] for e in encoded]
    torch.testing.assert_close(merged, torch.cat(alone), rtol=1e-5, atol=1e-5)
    image_id = processor.tokenizer.convert_tokens_to_ids('<|image_pad|>')
    text = packed['input_ids'][0] != image_id
    assert not torch.allclose(merged[~text], model.get_input_embeddings()(packed['input_ids'][0])[~text])


def test_text_only_training_batch_still_reaches_the_vision_tower(processor, tiny_splice):
    """ZeRO-3 / DDP need every rank to run the same trainable parameters, images or not."""
    from transformers import AutoModelForImageTextToText
    model = AutoModelForImageTextToText.from_pretrained(tiny_splice)
    template = make_template(processor, mode='train')
    batch = template.data_collator([template.encode(
        {'messages': [{'role': 'user', 'content': '你好'}, {'role': 'assistant', 'content': '你好！'}]})])
    assert 'pixel_values' not in batch
    inputs = template._post_encode(model, dict(batch))
    out = model(inputs_embeds=inputs['inputs_embeds'], attention_mask=batch['attention_mask'], labels=batch['labels'])
    out.loss.backward()
    grad = model.model.connector.modality_projection.proj.weight.grad
    assert grad is not None and torch.count_nonzero(grad) == 0  # in the graph, contributing nothing


def test_loader_refuses_a_checkpoint_whose_image_id_is_not_the_tokenizers(splice_copy):
    from swift.model import get_model_processor
    config = json.loads((splice_copy / 'config.json').read_text())
    config['image_token_id'] += 1
    (splice_copy / 'config.json').write_text(json.dumps(config))
    with pytest.raises(ValueError, match='would train blind'):
        get_model_processor(str(splice_copy), model_type=register.MODEL_TYPE, load_model=False)


def test_image_size_policy_matches_the_processor_called_the_same_way(processor, monkeypatch):
    """Default (SMVL_UPSCALE=true): SmolVLM2's resize to longest_edge, the processor's own default and llama.cpp's;
    SMVL_UPSCALE=false: a 40x30 image gets 2x2 tiles + global (its own size rounded up to tiles), the ids of the
    processor called with do_resize=False, and a larger one shrinks to the longest edge first."""
    image_id = processor.tokenizer.convert_tokens_to_ids('<|image_pad|>')
    request = {'messages': [{'role': 'user', 'content': '<image>图中有什么？'}], 'images': [RED]}
    text = processor.apply_chat_template([{'role': 'user', 'content': [img(), img('图中有什么？')]}],
                                         add_generation_prompt=True, enable_thinking=False)
    upscaled = make_template(processor).encode(request)
    assert upscaled['pixel_values'].shape[0] == 13 and upscaled['input_ids'].count(image_id) == 13 * 4
    assert upscaled['input_ids'] == list(processor(text=[text], images=[[RED]])['input_ids'][0])
    monkeypatch.setenv('SMVL_UPSCALE', 'false')
    fitted = make_template(processor).encode(request)
    assert fitted['pixel_values'].shape[0] == 5 and fitted['input_ids'].count(image_id) == 5 * 4
    assert fitted['input_ids'] == list(processor(text=[text], images=[[RED]], do_resize=False)['input_ids'][0])
    big = Image.new('RGB', (400, 100))
    tiles = make_template(processor).encode(dict(request, images=[big]))['pixel_values'].shape[0]
    assert tiles == 4 * 1 + 1  # shrunk to the 128-pixel longest edge first: a 4x1 grid


GROUNDING_ROW = {'messages': [{'role': 'user', 'content': '<image>框出图中的<ref-object>'},
                              {'role': 'assistant', 'content': '<ref-object><bbox><bbox>'}],
                 'objects': {'ref': ['红色圆形', '红色圆形'], 'bbox': [[40, 20, 120, 100], [0, 100, 400, 200]]}}


@pytest.mark.parametrize('setting', [{}, {'SMVL_UPSCALE': 'false'}, {'SMVL_UPSCALE': 'false', 'SMVL_LONGEST_EDGE': '64'}])
def test_boxes_are_thousandths_of_the_original_size(processor, monkeypatch, setting):
    """A 400x200 image is resized to the 128-pixel longest edge (default), shrunk, or shrunk further: its boxes
    read the same."""
    for key, value in setting.items():
        monkeypatch.setenv(key, value)
    row = json.loads(json.dumps(GROUNDING_ROW))  # swift normalises the boxes in place
    encoded = make_template(processor, mode='train').encode(dict(row, images=[Image.new('RGB', (400, 200))]))
    text = processor.tokenizer.decode(encoded['input_ids'])
    assert ('<|object_ref_start|>红色圆形<|object_ref_end|><|box_start|>(100,100),(300,500)<|box_end|>'
            '<|box_start|>(0,500),(1000,1000)<|box_end|>') in text
    assert '框出图中的<|object_ref_start|>红色圆形<|object_ref_end|><|im_end|>' in text


def test_labels_cover_the_answers_boxes_not_the_questions_ref(processor):
    row = json.loads(json.dumps(GROUNDING_ROW))
    encoded = make_template(processor, mode='train').encode(dict(row, images=[Image.new('RGB', (400, 200))]))
    labelled = processor.tokenizer.decode([t for t, lab in zip(encoded['input_ids'], encoded['labels']) if lab != -100])
    assert labelled == ('<think>\n\n</think>\n\n<|object_ref_start|>红色圆形<|object_ref_end|><|box_start|>(100,100),'
                        '(300,500)<|box_end|><|box_start|>(0,500),(1000,1000)<|box_end|><|im_end|>\n')
