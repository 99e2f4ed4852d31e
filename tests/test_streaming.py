"""qwen3_smvl/serve/streaming.py: swift's streamer prints a streamed answer whole however the engine batches its
tokens into outputs (vLLM may hand over a short answer in one output, finished)."""
import pytest

from conftest import swift_template

ANSWER = '三个'


@pytest.fixture(scope='module')
def template(tiny_splice):
    return swift_template(tiny_splice, 'vllm')  # loads the plugin, which wraps the streamer


@pytest.mark.parametrize('outputs', ['whole, finished', 'first token, then the rest', 'token by token'])
def test_streamed_text_is_the_whole_answer_however_the_tokens_come(template, outputs):
    from swift.infer_engine.utils import InferStreamer
    tokens = template.tokenizer.encode(ANSWER, add_special_tokens=False) + [template.tokenizer.eos_token_id]
    assert len(tokens) >= 3  # two answer tokens and the end: the cases below differ
    ends = {'whole, finished': [len(tokens)], 'first token, then the rest': [1, len(tokens)],
            'token by token': list(range(1, len(tokens) + 1))}[outputs]
    streamer = InferStreamer(template)  # what the vLLM engine makes per request; each output holds all tokens so far
    printed = ''.join(streamer.get_printable_text(tokens[:end], end == len(tokens)) for end in ends)
    prefix = template.template_meta.non_thinking_prefix  # thinking off, the template's default
    assert prefix and printed == prefix + ANSWER
