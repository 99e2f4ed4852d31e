"""Served answers as OpenAI clients read them: the official `openai` client against recipes/deploy.sh on both
backends, streamed and not, thinking on and off, and a tool call (qwen3_smvl/serve/reasoning.py)."""
import json

import pytest

from conftest import TOOL_CALL, TOOLS, thinking_rows, train_rows
from qwen3_smvl.export.gguf_runtime import data_url
from test_serving import BACKENDS

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def thinking_model(tiny_splice, tmp_path_factory):
    """The tiny splice trained to think before it counts, and to call a tool: (model, the picture's data URL)."""
    work = tmp_path_factory.mktemp('thinking')
    rows, image = thinking_rows(work)
    return train_rows(tiny_splice, work, rows, target_loss=0.05), data_url(image)


def ask(client, url, thinking, stream, max_tokens=24):
    """(content, reasoning_content) as the client hands them over; thinking None: the server's default."""
    extra = {} if thinking is None else {'extra_body': {'chat_template_kwargs': {'enable_thinking': thinking}}}
    messages = [{'role': 'user', 'content': [{'type': 'image_url', 'image_url': {'url': url}},
                                             {'type': 'text', 'text': '图中有几个三角形？'}]}]
    reply = client.chat.completions.create(model='qwen3-smvl', messages=messages, temperature=0,
                                           max_tokens=max_tokens, stream=stream, **extra)
    if not stream:
        message = reply.choices[0].message
        return message.content, getattr(message, 'reasoning_content', None)
    content, reasoning = [], []
    for chunk in reply:
        for choice in chunk.choices:
            content.append(choice.delta.content or '')
            reasoning.append(getattr(choice.delta, 'reasoning_content', None) or '')
    return ''.join(content), ''.join(reasoning) or None


@pytest.mark.parametrize('backend', BACKENDS)
def test_content_is_the_answer_and_thinking_is_reasoning_content(thinking_model, tmp_path, backend):
    from openai import OpenAI

    from qwen3_smvl.serve.deploy import served
    model, url = thinking_model
    with served(model, tmp_path / 'deploy.log', BACKEND=backend) as base:
        client = OpenAI(base_url=base, api_key='EMPTY')
        for stream in (False, True):
            assert ask(client, url, True, stream) == ('三个', '数一数'), stream
            content, reasoning = ask(client, url, False, stream)
            assert reasoning is None and content and '<think>' not in content and '</think>' not in content, content
            assert ask(client, url, None, stream) == (content, None)  # the recipe's default: thinking off
        # one token: vLLM hands it over in the first output, which is also the last (qwen3_smvl/serve/streaming.py)
        first = ask(client, url, False, False, max_tokens=1)
        assert first[0] and content.startswith(first[0]) and ask(client, url, False, True, max_tokens=1) == first
        reply = client.chat.completions.create(model='qwen3-smvl', messages=[{'role': 'user', 'content': '北京天气？'}],
                                               tools=TOOLS, temperature=0, max_tokens=48)
    message = reply.choices[0].message
    assert [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls] == [
        (TOOL_CALL['name'], TOOL_CALL['arguments'])]
    assert not message.content and getattr(message, 'reasoning_content', None) is None
