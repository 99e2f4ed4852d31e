"""Qwen3's thinking block out of `content`, into `reasoning_content`, on both `swift deploy` backends.

OpenAI clients read the answer from `message.content`; Qwen3 on vLLM and SGLang puts thinking in
`reasoning_content`. swift 4.6 does neither for this template: its decode adds the prompt's response prefix back to
every answer (`<think>\n\n</think>\n\n` with thinking off), and it has no reasoning parser for the transformers
backend. Its `--vllm_reasoning_parser` cannot be used with the pinned vLLM (0.32 registers `qwen3` lazily, which
swift's name check rejects, and renamed the parser's methods swift calls) and would read thinking-off answers, which
carry no tags, as all reasoning. So the split happens here, once, on the response `SwiftDeploy` sends for either
backend, streamed or not: a text that starts with `<think>` has its block moved to `reasoning_content` (None when
empty), the rest is `content`, and tool calls are read from the content alone (not streamed: in the last chunk).
"""
from typing import Optional, Tuple

from qwen3_smvl.tokens import THINK_END, THINK_START, TOOL_CALL_START


def split(text: str, final: bool = True) -> Tuple[Optional[str], str]:
    """(reasoning, content) of an answer. With final=False (a stream so far), what could still turn out to be part of
    a tag or of the newlines around the block is held back, so that later splits only extend earlier ones."""
    stripped = text.lstrip()
    if not stripped.startswith(THINK_START):
        if not final and THINK_START.startswith(stripped):
            return None, ''  # '', '<', '<thi': maybe the block's start
        return None, text
    body = stripped[len(THINK_START):]
    if THINK_END in body:
        reasoning, content = body.split(THINK_END, 1)
        return reasoning.strip('\n') or None, content.lstrip('\n')
    if final:  # cut off inside the block (max_tokens): all of it is reasoning
        return body.strip('\n') or None, ''
    body = body[:len(body) - partial_tag(body)].lstrip('\n').rstrip('\n')
    return body or None, ''


def partial_tag(text: str) -> int:
    """Length of the longest end of TEXT that begins THINK_END ('</thi' of '...</thi')."""
    return next((n for n in range(min(len(text), len(THINK_END) - 1), 0, -1) if THINK_END.startswith(text[-n:])), 0)


def split_message(message, toolcalls) -> None:
    """A non-streamed ChatMessage in place; TOOLCALLS(content) reads tool calls from the answer."""
    if not isinstance(message.content, str):
        return
    message.reasoning_content, message.content = split(message.content)
    if message.tool_calls:
        message.tool_calls = toolcalls(message.content)
    if message.tool_calls:  # as OpenAI and vLLM answer: the text before the calls, or null
        message.content = message.content.split(TOOL_CALL_START, 1)[0].strip() or None


def split_delta(state: dict, choice, toolcalls) -> None:
    """A streamed choice's delta in place: STATE keeps the text so far and what was sent of each part."""
    text = state['text'] = state.get('text', '') + (choice.delta.content or '')
    final = choice.finish_reason is not None
    reasoning, content = split(text, final)
    reasoning = reasoning or ''
    choice.delta.reasoning_content = reasoning[len(state.get('reasoning', '')):] or None
    choice.delta.content = content[len(state.get('content', '')):]  # '' rather than None: swift's page appends it
    state['reasoning'], state['content'] = reasoning, content
    if final and state.get('tool_calls') is None:
        choice.delta.tool_calls = toolcalls(content)
        state['tool_calls'] = True
    elif not final:
        choice.delta.tool_calls = None  # swift reads them from the whole text, thinking included; read once at the end


def apply(deploy_cls) -> None:
    """Wrap SwiftDeploy._post_process, which every chat response of both backends passes through."""
    post_process = deploy_cls._post_process

    def post_process_split(self, request_info, response, return_cmpl_response: bool = False):
        response = post_process(self, request_info, response, return_cmpl_response)  # swift's log keeps the raw text
        if return_cmpl_response:
            return response  # /v1/completions: text as generated
        toolcalls = self.infer_engine._get_toolcall
        for choice in response.choices:
            if hasattr(choice, 'delta'):
                split_delta(request_info.setdefault('reasoning_split', {}).setdefault(choice.index, {}), choice,
                            toolcalls)
            else:
                split_message(choice.message, toolcalls)
        return response

    deploy_cls._post_process = post_process_split
