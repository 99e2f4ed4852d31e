"""`swift deploy` (recipes/deploy.sh) and OpenAI video_url parts: answered on the transformers backend (data URL, an
allowed local path), bad clips and paths refused with a 4xx and the server going on (vLLM: tests/test_vllm_video.py)."""
import base64
import json
import random

import pytest

from qwen3_smvl.client import answered, chat, post
from qwen3_smvl.datasets.synthetic_video import FPS, moving_circle, write_mp4

pytestmark = pytest.mark.slow


def video_chat(url: str, text: str = '圆形往哪个方向移动？') -> dict:
    return {'model': 'qwen3-smvl', 'max_tokens': 4, 'temperature': 0,
            'messages': [{'role': 'user', 'content': [{'type': 'video_url', 'video_url': {'url': url}},
                                                      {'type': 'text', 'text': text}]}]}


def mp4_url(data: bytes) -> str:
    return 'data:video/mp4;base64,' + base64.b64encode(data).decode()


@pytest.fixture(scope='module')
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp('served_clips')
    (folder / 'allowed').mkdir(), (folder / 'outside').mkdir()
    pictures, _, _ = moving_circle(32, random.Random(2))
    for sub in ('allowed', 'outside'):
        write_mp4(folder / sub / 'clip.mp4', [p for p in pictures for _ in range(FPS)])
    return folder


def test_transformers_backend_answers_video_url(tiny_splice, clips, tmp_path):
    from qwen3_smvl.serve.deploy import served
    from qwen3_smvl.client import data_url
    clip = (clips / 'allowed' / 'clip.mp4').read_bytes()
    with served(tiny_splice, tmp_path / 'deploy.log', ALLOWED_LOCAL_MEDIA_PATH=clips / 'allowed',
                SMVL_MAX_VIDEO_SECONDS=6) as base:
        answers = {}
        for name, url in {'data URL': mp4_url(clip), 'allowed path': str(clips / 'allowed' / 'clip.mp4')}.items():
            status, text = post(base, video_chat(url))
            assert status == 200, (name, text)
            answers[name] = json.loads(text)['choices'][0]['message']['content']
        assert answers['data URL'] == answers['allowed path']  # the same clip, however it came
        bad = {
            'path outside ALLOWED_LOCAL_MEDIA_PATH': (str(clips / 'outside' / 'clip.mp4'),
                                                      'Refusing to read the media file'),
            'not a video': (mp4_url(b'this is not a video' * 10), 'not a readable video'),
            'truncated': (mp4_url(clip[:len(clip) // 2]), 'truncated video'),
            'truncated base64': (mp4_url(clip)[:-7], 'invalid base64'),
        }
        for name, (url, message) in bad.items():
            status, text = post(base, video_chat(url))
            assert 400 <= status < 500 and message in text, (name, status, text)
        # an over-long clip (the limit lowered to 6 s for this server; this clip is 8 s)
        long_clip = write_mp4(tmp_path / 'long.mp4', [p for p in moving_circle(32, random.Random(3))[0]
                                                      for _ in range(FPS)] * 2)
        status, text = post(base, video_chat(mp4_url(long_clip.read_bytes())))
        assert 400 <= status < 500 and 'SMVL_MAX_VIDEO_SECONDS' in text, text
        status, text = post(base, video_chat(mp4_url(clip)))  # still serving video
        assert status == 200 and answered(text)
        status, text = post(base, chat([data_url(40, 30)]))  # and images
        assert status == 200, text
