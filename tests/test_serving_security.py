"""recipes/deploy.sh for callers it does not trust: local paths, image URLs that never end, API keys (both backends)."""
import http.server
import os
import threading
import time

import pytest
from PIL import Image

from qwen3_smvl.client import chat, post
from test_serving import BACKENDS

pytestmark = pytest.mark.slow
KEY = 'sekret'
FETCH_SECONDS = 3


class ImageHost(http.server.BaseHTTPRequestHandler):
    """/ok.png: a PNG; /endless: a body with no end; /trickle: a byte a second; /big: 100 MB announced. Each stops
    by itself after 60 s or when the client hangs up."""
    png = b''

    def do_GET(self):
        self.send_response(200)
        self.send_header('Content-Type', 'image/png')
        if self.path == '/ok.png':
            self.send_header('Content-Length', str(len(self.png)))
            self.end_headers()
            self.wfile.write(self.png)
            return
        if self.path == '/big':
            self.send_header('Content-Length', str(100 * 2**20))
        self.end_headers()
        chunk, pause = (b'\0', 1.0) if self.path == '/trickle' else (b'\0' * 2**20, 0.)
        deadline = time.time() + 60
        try:
            while time.time() < deadline:
                self.wfile.write(chunk)
                self.wfile.flush()
                time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@pytest.fixture(scope='module')
def image_host(tmp_path_factory):
    png = tmp_path_factory.mktemp('host') / 'ok.png'
    Image.new('RGB', (40, 30), (30, 200, 30)).save(png)
    ImageHost.png = png.read_bytes()
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), ImageHost)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()


@pytest.mark.parametrize('backend', BACKENDS)
def test_untrusted_callers(tiny_splice, tmp_path, image_host, backend):
    from qwen3_smvl.serve.deploy import served
    allowed, outside = tmp_path / 'allowed', tmp_path / 'outside'
    allowed.mkdir(), outside.mkdir()
    for folder in (allowed, outside):
        Image.new('RGB', (40, 30), (200, 30, 30)).save(folder / 'red.png')
    os.symlink(outside / 'red.png', allowed / 'link.png')
    with served(tiny_splice, tmp_path / 'deploy.log', BACKEND=backend, API_KEY=KEY, ALLOWED_LOCAL_MEDIA_PATH=allowed,
                SWIFT_URL_ALLOWED_HOSTS='127.0.0.1', SMVL_FETCH_SECONDS=FETCH_SECONDS) as base:
        good = chat([str(allowed / 'red.png')])
        assert post(base, good)[0] == 401  # no key: nothing runs
        assert post(base, good, api_key='wrong')[0] == 401
        status, text = post(base, good, api_key=KEY)
        assert status == 200 and text

        refused = {}
        for name, path in {'outside': outside / 'red.png', 'dot-dot escape': allowed / '..' / 'outside' / 'red.png',
                           'symlink out': allowed / 'link.png', 'not there': outside / 'nothing.png'}.items():
            status, text = post(base, chat([str(path)]), api_key=KEY)
            assert status in (400, 422) and 'Refusing to read the media file' in text, (name, status, text)
            refused[name] = status, text.replace(str(path), 'PATH')
        assert refused['not there'] == refused['outside']  # whether a file exists is not given away
        status, text = post(base, chat(['file:///etc/hostname']), api_key=KEY)
        assert 400 <= status < 500, (status, text)

        status, text = post(base, chat([f'{image_host}/ok.png']), api_key=KEY)  # an allowed internal host
        assert status == 200, text
        for path, message in (('/endless', 'larger than 32MB'), ('/big', 'larger than 32MB'),
                              ('/trickle', f'longer than {FETCH_SECONDS}s')):
            t0 = time.time()
            status, text = post(base, chat([image_host + path]), api_key=KEY, timeout=60)
            elapsed = time.time() - t0
            assert status == 400 and message in text, (path, status, text)
            assert elapsed < FETCH_SECONDS + 10, (path, elapsed)  # bounded, whatever the host does

        status, text = post(base, good, api_key=KEY)  # still serving
        assert status == 200 and text
