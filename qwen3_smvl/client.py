"""A minimal OpenAI-API client for the served model: image data URLs, chat bodies, POSTs that return the status."""
import base64
import io
import json
import urllib.error
import urllib.request

from PIL import Image


def post(base: str, body=None, raw: bytes = None, path: str = '/chat/completions', timeout: float = 300,
         api_key: str = None):
    """(status, text) of a POST; HTTP errors are returned, not raised."""
    data = raw if raw is not None else json.dumps(body).encode()
    headers = {'Content-Type': 'application/json', **({'Authorization': f'Bearer {api_key}'} if api_key else {})}
    req = urllib.request.Request(base + path, data, headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def answered(text: str) -> bool:
    """A chat completion body that carries an answer: a message with generated tokens. Its content may be '' (a
    random test model's tokens can all be special ones, which decoding leaves out), or null beside tool calls."""
    body = json.loads(text)
    return 'message' in body['choices'][0] and body['usage']['completion_tokens'] > 0


def data_url(width: int, height: int, colour=(200, 30, 30)) -> str:
    buf = io.BytesIO()
    Image.new('RGB', (width, height), colour).save(buf, format='PNG')
    return 'data:image/png;base64,' + base64.b64encode(buf.getvalue()).decode()


def chat(urls, text: str = '图里是什么？', **extra) -> dict:
    parts = [{'type': 'image_url', 'image_url': {'url': u}} for u in urls] + [{'type': 'text', 'text': text}]
    return {'model': 'qwen3-smvl', 'max_tokens': 4, 'temperature': 0, 'messages': [{'role': 'user', 'content': parts}],
            **extra}
