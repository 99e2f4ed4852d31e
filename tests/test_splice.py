"""tools/build_model.py: tensors, ties, ids, processor, parameter counts."""
import json

import torch
from PIL import Image
from safetensors import safe_open
from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor, AutoTokenizer, SmolVLMImageProcessor

from qwen3_smvl import DATA_DIR
from qwen3_smvl.splice.donors import genuine_qwen3_tokenizer_files, load_preset
from qwen3_smvl.splice.config import ARCHITECTURE, MANIFEST, splice_config
from qwen3_smvl.splice.sizes import parameter_counts

from conftest import run_tool


def tensors(folder):
    out = {}
    index = folder / 'model.safetensors.index.json'
    files = sorted(set(json.loads(index.read_text())['weight_map'].values())) if index.exists() else ['model.safetensors']
    for name in files:
        with safe_open(folder / name, 'pt') as f:
            out.update({k: f.get_tensor(k) for k in f.keys()})
    return out


def test_cli_contract_builds_and_prints_parameter_table(tiny_donors, tmp_path):
    out = tmp_path / 'cli'
    res = run_tool('tools/build_model.py', '--vision', tiny_donors / 'vision', '--llm', tiny_donors / 'llm', '--out', out)
    assert 'connector-only training: trainable params:' in res.stdout
    assert 'self-check:' in res.stdout
    assert (out / MANIFEST).is_file()


def test_vision_and_llm_tensors_bit_exact(tiny_donors, tiny_splice):
    spliced, vision, llm = tensors(tiny_splice), tensors(tiny_donors / 'vision'), tensors(tiny_donors / 'llm')
    vision_keys = [k for k in vision if k.startswith('model.vision_model.')]
    assert vision_keys
    for k in vision_keys:
        assert torch.equal(spliced[k], vision[k]), k
    for k, v in llm.items():
        assert torch.equal(spliced['model.text_model.' + k[len('model.'):]], v), k
    assert not any(k.startswith('model.text_model.') and k not in
                   {'model.text_model.' + n[len('model.'):] for n in llm} for k in spliced)
    config = AutoConfig.from_pretrained(tiny_splice)
    proj = spliced['model.connector.modality_projection.proj.weight']
    assert proj.shape == (config.text_config.hidden_size, config.vision_config.hidden_size * config.scale_factor**2)
    # scale-matched init: image tokens arrive at the RMS of the LLM's embeddings
    embed_rms = llm['model.embed_tokens.weight'].pow(2).mean().sqrt()
    assert abs(proj.std() * proj.shape[1]**0.5 / embed_rms - 1) < 0.05
    assert 'lm_head.weight' not in spliced  # tied: stored once


def test_loads_with_plain_auto_classes_and_stays_tied(tiny_splice, tmp_path):
    model = AutoModelForImageTextToText.from_pretrained(tiny_splice)
    assert type(model).__name__ == 'SmolVLMForConditionalGeneration'
    assert type(model.model.text_model).__name__ == 'Qwen3Model'
    assert model.config.tie_word_embeddings is True and model.config.text_config.tie_word_embeddings is True
    assert model.lm_head.weight.data_ptr() == model.model.text_model.embed_tokens.weight.data_ptr()
    model.save_pretrained(tmp_path / 'again')
    again = AutoModelForImageTextToText.from_pretrained(tmp_path / 'again')
    assert again.lm_head.weight.data_ptr() == again.model.text_model.embed_tokens.weight.data_ptr()
    assert torch.equal(again.lm_head.weight, model.lm_head.weight)
    raw = json.loads((tiny_splice / 'config.json').read_text())
    assert raw['architectures'] == [ARCHITECTURE]
    assert raw['tie_word_embeddings'] == raw['text_config']['tie_word_embeddings']


def test_untied_llm_keeps_its_own_head(tiny_donors, tmp_path):
    from transformers import AutoModelForCausalLM
    from qwen3_smvl.splice.surgery import build
    llm = AutoModelForCausalLM.from_pretrained(tiny_donors / 'llm', tie_word_embeddings=False)
    with torch.no_grad():
        llm.lm_head.weight.copy_(torch.randn_like(llm.lm_head.weight))
    llm.config.tie_word_embeddings = False
    llm.save_pretrained(tmp_path / 'llm')
    AutoTokenizer.from_pretrained(tiny_donors / 'llm').save_pretrained(tmp_path / 'llm')
    build(tiny_donors / 'vision', tmp_path / 'llm', tmp_path / 'out')
    model = AutoModelForImageTextToText.from_pretrained(tmp_path / 'out')
    assert model.config.tie_word_embeddings is False and model.config.text_config.tie_word_embeddings is False
    assert not torch.equal(model.lm_head.weight, model.model.text_model.embed_tokens.weight)
    assert torch.equal(model.lm_head.weight, llm.lm_head.weight)


def test_token_ids_come_from_the_tokenizer(tiny_splice):
    tok = AutoTokenizer.from_pretrained(tiny_splice)
    config = AutoConfig.from_pretrained(tiny_splice)
    vocab = tok.get_vocab()
    assert config.image_token_id == vocab['<|image_pad|>']
    assert config.image_token_id != 151655  # tiny ids differ from the real ones: nothing is hard-coded
    assert config.text_config.eos_token_id == vocab['<|im_end|>']
    assert config.pad_token_id == config.text_config.pad_token_id == vocab['<|endoftext|>']
    gen = json.loads((tiny_splice / 'generation_config.json').read_text())
    assert gen['eos_token_id'] == [vocab['<|im_end|>'], vocab['<|endoftext|>']]
    assert gen['pad_token_id'] == vocab['<|endoftext|>']
    assert config.text_config.vocab_size >= len(tok)


def test_processor_uses_qwen_vision_tokens(tiny_splice):
    import torchvision  # noqa: F401  - the path of a normal GPU install: SmolVLM's video processor needs it
    processor = AutoProcessor.from_pretrained(tiny_splice)
    assert type(processor.video_processor).__name__ == 'SmolVLMVideoProcessor'
    assert processor.image_token == '<|image_pad|>'
    assert processor.fake_image_token == '<|vision_start|>'
    assert processor.global_image_token == '<|vision_pad|>'
    messages = [{'role': 'user', 'content': [{'type': 'image'}, {'type': 'text', 'text': '图中有什么？'}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    assert text == '<|im_start|>user\n<|image_pad|>图中有什么？<|im_end|>\n<|im_start|>assistant\n'
    image = Image.new('RGB', (32, 32), (255, 0, 0))
    inputs = processor(text=[text], images=[[image]], return_tensors='pt')
    ids = inputs['input_ids'][0].tolist()
    tok = processor.tokenizer
    image_id = tok.convert_tokens_to_ids('<|image_pad|>')
    n_tiles = inputs['pixel_values'].shape[1]
    assert ids.count(image_id) == n_tiles * processor.image_seq_len
    decoded = tok.decode(ids)
    assert '<|vision_start|><row_1_col_1>' + '<|image_pad|>' * processor.image_seq_len in decoded
    assert '<|vision_start|><|vision_pad|>' + '<|image_pad|>' * processor.image_seq_len + '<|vision_start|>' in decoded


def test_real_preprocessor_settings_give_1088_image_tokens(tiny_splice):
    """One 512x512 image with SmolVLM2-256M's settings: 4x4 tiles + the global image, 64 tokens each."""
    from transformers import SmolVLMProcessor
    published = json.loads((DATA_DIR / 'smolvlm2_256m_video_instruct.json').read_text())
    pre = {k: v for k, v in published['preprocessor_config'].items()
           if k not in ('image_processor_type', 'processor_class', 'video_sampling')}
    spliced = AutoProcessor.from_pretrained(tiny_splice)
    processor = SmolVLMProcessor(image_processor=SmolVLMImageProcessor(**pre), tokenizer=spliced.tokenizer,
                                 video_processor=spliced.video_processor,
                                 image_seq_len=published['processor_config']['image_seq_len'],
                                 chat_template=spliced.chat_template)
    text = processor.apply_chat_template([{'role': 'user', 'content': [{'type': 'image'}]}])
    inputs = processor(text=[text], images=[[Image.new('RGB', (512, 512), (0, 128, 255))]], return_tensors='pt')
    image_id = processor.tokenizer.convert_tokens_to_ids('<|image_pad|>')
    assert inputs['pixel_values'].shape[:3] == (1, 17, 3)
    assert int((inputs['input_ids'] == image_id).sum()) == 17 * 64 == 1088


def test_real_dimensions_parameter_counts():
    """The seed article's 'trainable params: 12.00M || all params: 662.87M' (units of 2**20), exactly."""
    preset = load_preset('real')
    config = splice_config(preset['smolvlm']['config'], preset['qwen3']['config'],
                           AutoTokenizer.from_pretrained(genuine_qwen3_tokenizer_files()))
    counts = parameter_counts(config)
    assert counts['connector'] == 12_582_912 == 768 * 16 * 1024
    assert counts['total'] == 695_065_856
    assert f"{counts['connector'] / 2**20:.2f}M" == '12.00M' and f"{counts['total'] / 2**20:.2f}M" == '662.87M'
    assert counts['lm_head'] == 0  # tied head counted once
    assert config.image_token_id == 151655


def test_manifest_and_model_card(tiny_splice):
    manifest = json.loads((tiny_splice / MANIFEST).read_text())
    assert manifest['parameters']['total'] == sum(manifest['parameters'][k] for k in
                                                  ('vision_tower', 'connector', 'llm', 'lm_head'))
    assert manifest['self_check']['image_tokens'] == 4
    assert manifest['tokens']['<|image_pad|>'] == AutoConfig.from_pretrained(tiny_splice).image_token_id
    card = (tiny_splice / 'README.md').read_text()
    assert f"{manifest['parameters']['connector']:,}" in card
