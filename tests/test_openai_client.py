"""Served answers as OpenAI clients read them: the official `openai` client against recipes/deploy.sh on both
backends, streamed and not, thinking on and off, and a tool call (qwen3_smvl/serve/reasoning.py)."""
import base64
import json

import pytest
from PIL import Image

from conftest import train_rows
from test_serving import BACKENDS

pytestmark = pytest.mark.slow
TOOLS = [{'type': 'function', 'function': {'name': 'get_weather', 'description': '查询天气', 'parameters': {
    'type': 'object', 'properties': {'city': {'type': 'string'}}, 'required': ['city']}}}]
TOOL_CALL = {'name': 'get_weather', 'arguments': {'city': '北京'}}


@pytest.fixture(scope='module')
def thinking_model(tiny_splice, tmp_path_factory):
    """The tiny splice trained to think before it counts, and to call a tool: (model, the picture's data URL)."""
    work = tmp_path_factory.mktemp('thinking')
    image = work / 'triangles.png'
    Image.new('RGB', (64, 48), 'white').save(image)
    question = {'role': 'user', 'content': '<image>图中有几个三角形？'}
    thinks = {'messages': [question, {'role': 'assistant', 'content': '<think>\n数一数\n</think>\n\n三个'}],
              'images': [str(image)]}
    answers = {'messages': [question, {'role': 'assistant', 'content': '三个'}], 'images': [str(image)]}  # thinking off
    calls = {'messages': [{'role': 'user', 'content': '北京天气？'}, {'role': 'assistant', 'content': (
        f'<tool_call>\n{json.dumps(TOOL_CALL, ensure_ascii=False)}\n</tool_call>')}], 'tools': TOOLS}
    # both turns begin '<think>': '\n' when it thinks, '\n\n' when thinking is off; twice the first keeps it ahead
    rows = [thinks, thinks, answers, calls]
    return train_rows(tiny_splice, work, rows, target_loss=0.05), 'data:image/png;base64,' + base64.b64encode(image.read_bytes()).decode()


def ask(client, url, thinking, stream):
    """(content, reasoning_content) as the client hands them over; thinking None: the server's default."""
    extra = {} if thinking is None else {'extra_body': {'chat_template_kwargs': {'enable_thinking': thinking}}}
    messages = [{'role': 'user', 'content': [{'type': 'image_url', 'image_url': {'url': url}},
                                             {'type': 'text', 'text': '图中有几个三角形？'}]}]
    reply = client.chat.completions.create(model='qwen3-smvl', messages=messages, temperature=0, max_tokens=24,
                                           stream=stream, **extra)
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
        reply = client.chat.completions.create(model='qwen3-smvl', messages=[{'role': 'user', 'content': '北京天气？'}],
                                               tools=TOOLS, temperature=0, max_tokens=48)
    message = reply.choices[0].message
    assert [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls] == [
        (TOOL_CALL['name'], TOOL_CALL['arguments'])]
    assert not message.content and getattr(message, 'reasoning_content', None) is None
