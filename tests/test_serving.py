"""recipes/deploy.sh under fire: bad requests get a 4xx with a message and the server goes on; concurrency; stream;
a 300-request soak with bad requests mixed in, and the server's memory after it."""
import base64
import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from qwen3_smvl.client import answered, chat, data_url, post
from test_vllm import VLLM_PYTHON

pytestmark = pytest.mark.slow
BACKENDS = ['transformers', pytest.param('vllm', marks=pytest.mark.skipif(
    not VLLM_PYTHON.exists(), reason='no .venv-vllm (make vllm-venv builds it)'))]


@pytest.mark.parametrize('backend', BACKENDS)
def test_bad_requests_get_4xx_and_the_server_goes_on(tiny_splice, tmp_path, backend):
    from qwen3_smvl.serve.deploy import SERVER_PIDS, served
    from qwen3_smvl.serve.soak import soak
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
                SMVL_MAX_IMAGE_PIXELS=1_000_000, ALLOWED_LOCAL_MEDIA_PATH=tmp_path) as base:
        with urllib.request.urlopen(base + '/models') as r:
            assert [m['id'] for m in json.loads(r.read())['data']] == ['qwen3-smvl']
        status, text = post(base, raw=b'{"model": ')
        assert status in (400, 422) and 'JSON' in text
        for name, (body, message) in bad.items():
            status, text = post(base, body)
            assert 400 <= status < 500 and message in text, (name, status, text)
        for url in (good, str(image_file)):  # base64 data URL and a local file path
            status, text = post(base, chat([url]))
            assert status == 200 and answered(text), text
        status, text = post(base, chat([good], stream=True))
        chunks = [line[len('data: '):] for line in text.splitlines() if line.startswith('data: ')]
        # a loaded vLLM may send a 4-token answer as one delta: the stream must end and add up to the whole answer
        assert status == 200 and chunks[-1] == '[DONE]' and len(chunks) >= 2, text
        streamed = ''.join(choice['delta'].get('content') or '' for chunk in chunks[:-1]
                           for choice in json.loads(chunk)['choices'])
        assert streamed == (json.loads(post(base, chat([good]))[1])['choices'][0]['message']['content'] or '')
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda _: post(base, chat([good])), range(16)))
        assert [s for s, _ in answers] == [200] * 16
        assert all(answered(t) for _, t in answers)
        # 300 requests at concurrency 16, a quarter of them bad: no 5xx, every good one answered, no memory growth
        report = soak(base, SERVER_PIDS[base], n=300, concurrency=16, max_images=2)
        print(backend, report)
        assert report['status_5xx'] == 0 and report['bad_4xx'] == report['bad'] == 75
        assert report['good_answered'] == report['good'] == 225
        assert report['rss_ratio'] < 1.10, report


def test_free_ports_are_below_the_ephemeral_range_and_bindable():
    """vLLM's engine binds ports of its own (bind(0)) before swift's HTTP server binds ours: ours must not be theirs."""
    import socket
    from qwen3_smvl.serve.deploy import ephemeral_port_start, free_port
    ephemeral_start = ephemeral_port_start()
    ports = {free_port() for _ in range(20)}
    assert len(ports) > 1
    if ephemeral_start > 2048:  # room below the range (Linux's default starts it at 32768; some hosts at 1024)
        assert all(1024 <= port < ephemeral_start for port in ports)
    with socket.socket() as s:
        s.bind(('127.0.0.1', ports.pop()))


def test_a_server_that_exits_at_start_is_reported_with_its_log(tmp_path):
    import subprocess
    from qwen3_smvl.serve.deploy import wait_until_answering
    log_file = tmp_path / 'server.log'
    with open(log_file, 'w') as log:
        server = subprocess.Popen(['bash', '-c', 'echo "[Errno 98] address already in use"; exit 3'], stdout=log)
        with pytest.raises(RuntimeError, match=r'exited \(3\)(.|\n)*address already in use'):
            wait_until_answering(server, 'http://127.0.0.1:9/v1/models', 'swift deploy', log_file, timeout=60)
