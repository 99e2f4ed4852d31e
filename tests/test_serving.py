"""recipes/deploy.sh under fire: bad requests get a 4xx with a message and the server goes on; concurrency; stream."""
import base64
import io
import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from test_vllm import VLLM_PYTHON

pytestmark = pytest.mark.slow
BACKENDS = ['transformers', pytest.param('vllm', marks=pytest.mark.skipif(
    not VLLM_PYTHON.exists(), reason='no .venv-vllm (make vllm-venv builds it)'))]


def post(base, body=None, raw=None, path='/chat/completions'):
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data, {'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def data_url(width, height) -> str:
    buf = io.BytesIO()
    Image.new('RGB', (width, height), (200, 30, 30)).save(buf, format='PNG')
    return 'data:image/png;base64,' + base64.b64encode(buf.getvalue()).decode()


def chat(urls, text='图里是什么？', **extra):
    parts = [{'type': 'image_url', 'image_url': {'url': u}} for u in urls] + [{'type': 'text', 'text': text}]
    return {'model': 'qwen3-smvl', 'max_tokens': 4, 'temperature': 0, 'messages': [{'role': 'user', 'content': parts}],
            **extra}


@pytest.mark.parametrize('backend', BACKENDS)
def test_bad_requests_get_4xx_and_the_server_goes_on(tiny_splice, tmp_path, backend):
    from qwen3_smvl.serve import served
    image_file = tmp_path / 'red.png'
    Image.new('RGB', (40, 30), (200, 30, 30)).save(image_file)
    good = data_url(40, 30)
    bad = {
        'not an image': (chat(['data:image/png;base64,' + base64.b64encode(b'not a png').decode()]),
                         'not a readable image'),
        'truncated base64': (chat([good[:-7]]), 'invalid base64'),
        'decompression bomb': (chat([data_url(2000, 1000)]), 'over the 1000000-pixel limit'),
        'too many images': (chat([good] * 3), 'at most 2 are allowed'),
        'prompt over the context': (chat([good], text='很长' * 5000), 'max_length'),
    }
    with served(tiny_splice, tmp_path / 'deploy.log', BACKEND=backend, MAX_IMAGES=2,
                SMVL_MAX_IMAGE_PIXELS=1_000_000) as base:
        with urllib.request.urlopen(base + '/models') as r:
            assert [m['id'] for m in json.loads(r.read())['data']] == ['qwen3-smvl']
        status, text = post(base, raw=b'{"model": ')
        assert status in (400, 422) and 'JSON' in text
        for name, (body, message) in bad.items():
            status, text = post(base, body)
            assert 400 <= status < 500 and message in text, (name, status, text)
        for url in (good, str(image_file)):  # base64 data URL and a local file path
            status, text = post(base, chat([url]))
            assert status == 200 and json.loads(text)['choices'][0]['message']['content'], text
        status, text = post(base, chat([good], stream=True))
        chunks = [line[len('data: '):] for line in text.splitlines() if line.startswith('data: ')]
        assert status == 200 and chunks[-1] == '[DONE]' and len(chunks) > 2
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda _: post(base, chat([good])), range(16)))
        assert [s for s, _ in answers] == [200] * 16
        assert all(json.loads(t)['choices'][0]['message']['content'] for _, t in answers)
