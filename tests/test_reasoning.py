"""qwen3_smvl/serve/reasoning.py: Qwen3's thinking block split from the answer, whole and as a stream."""
import random
from types import SimpleNamespace

import pytest

from qwen3_smvl.serve.reasoning import split, split_delta, split_message

CASES = {  # the text swift decodes -> (reasoning_content, content)
    'thinking off: the empty block swift adds back': ('<think>\n\n</think>\n\n三个', (None, '三个')),
    'thinking on': ('<think>\n图中有三个三角形。\n</think>\n\n三个', ('图中有三个三角形。', '三个')),
    'no block at all': ('三个', (None, '三个')),
    'cut off inside the block (max_tokens)': ('<think>\n先数一数', ('先数一数', '')),
    'a think tag later in the answer is text': ('答案是<think>', (None, '答案是<think>')),
    'a box answer': ('<think>\n\n</think>\n\n<|object_ref_start|>红色圆形<|object_ref_end|><|box_start|>(1,2),(3,4)'
                     '<|box_end|>', (None, '<|object_ref_start|>红色圆形<|object_ref_end|><|box_start|>(1,2),(3,4)'
                                           '<|box_end|>')),
}


@pytest.mark.parametrize('case', list(CASES))
def test_split(case):
    text, expected = CASES[case]
    assert split(text) == expected


def stream(text, cuts):
    """Split TEXT's stream delta by delta at CUTS, as swift's chunks come: (reasoning, content, tool_calls)."""
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
    state, reasoning, content, calls = {}, '', '', []
    for i, piece in enumerate(pieces):
        choice = SimpleNamespace(delta=SimpleNamespace(content=piece, reasoning_content=None, tool_calls=['raw']),
                                 finish_reason='stop' if i == len(pieces) - 1 else None)
        split_delta(state, choice, toolcalls=lambda c: ['call'] if '<tool_call>' in c else None)
        assert isinstance(choice.delta.content, str)  # never None: swift's page appends it
        reasoning += choice.delta.reasoning_content or ''
        content += choice.delta.content
        calls.append(choice.delta.tool_calls)
    return reasoning or None, content, calls


@pytest.mark.parametrize('case', list(CASES))
def test_streamed_deltas_add_up_to_the_whole_split(case):
    """Every way of cutting the text into chunks (a tag or the newlines split across chunks too) gives the same
    reasoning and content as the whole text; tool calls only in the last chunk."""
    text, expected = CASES[case]
    rng = random.Random(0)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(text)), rng.randint(0, min(6, len(text) - 1))))
        reasoning, content, calls = stream(text, cuts)
        assert (reasoning, content) == expected, cuts
        assert calls[:-1] == [None] * (len(calls) - 1)
    assert stream(text, list(range(1, len(text))))[:2] == expected  # a token a chunk


def test_tool_calls_are_read_from_the_answer_not_the_thinking():
    text = '<think>\n要查天气\n</think>\n\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "北京"}}\n</tool_call>'
    seen = []
    message = SimpleNamespace(content=text, reasoning_content=None, tool_calls=['swift read the whole text'])
    split_message(message, lambda c: seen.append(c) or ['get_weather'])
    assert seen == [text.split('</think>\n\n')[1]]
    assert (message.reasoning_content, message.content, message.tool_calls) == ('要查天气', None, ['get_weather'])
