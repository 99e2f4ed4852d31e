"""Model surgery: SmolVLM2's vision tower in front of Qwen3, written as one SmolVLM checkpoint.

The output is a plain `smolvlm` checkpoint whose text_config is the Qwen3 config, so
AutoModelForImageTextToText / AutoProcessor load it without custom code.
"""
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from tqdm import tqdm
from transformers import AutoImageProcessor, AutoTokenizer, GenerationConfig, SmolVLMConfig

from . import DATA_DIR
from .atomic import atomic_folder
from .check import run_self_check
from .inputs import cache_dir, hub_name, hub_reachable, looks_local, offline_advice
from .tokens import IMAGE_TOKEN, PROCESSOR_TOKENS, REQUIRED_TOKENS, missing_tokens, token_id
from .upstream import quiet_default_smolvlm_config_warning

quiet_default_smolvlm_config_warning()  # every importer (plugin, vLLM model, tools) saves or prints configs

log = logging.getLogger(__name__)

ARCHITECTURE = 'Qwen3SmVLForConditionalGeneration'  # selects the vLLM model; transformers loads by model_type
MANIFEST = 'qwen3_smvl_manifest.json'  # written last: its presence marks a complete build
VISION_TYPES = ('smolvlm', 'idefics3')
LLM_TYPES = ('qwen3', )
SHARD_BYTES = 256 * 2**20  # one shard is held twice while safetensors serialises it


class SpliceError(ValueError):
    """Bad input to the splice; the message names the problem in one line."""


@dataclass
class Donor:
    path: Path
    config: dict
    weights: Dict[str, Path] = field(default_factory=dict)  # tensor name -> safetensors file


def resolve(model: str, hub: str = 'modelscope') -> Path:
    """A local folder as it is; anything else is a hub id, downloaded by the hub's own client (one-line errors)."""
    if os.path.isdir(model):
        return Path(model)
    if looks_local(model) or model.count('/') != 1:  # hub models are always OWNER/NAME
        raise SpliceError(f'donor folder not found: {model}')
    other = '--hub hf' if hub == 'modelscope' else '--hub modelscope'
    if not hub_reachable(hub):
        raise SpliceError(f'{offline_advice(model, hub, "model", other)} Downloads are cached in {cache_dir(hub)}.')
    if hub == 'modelscope':
        from modelscope import snapshot_download
    else:
        from huggingface_hub import snapshot_download
    try:
        return Path(snapshot_download(model))
    except Exception as e:  # the hub clients raise many kinds; the user needs the id, the hub and the reason
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SpliceError(f'cannot download {model} from {hub_name(hub)}: {reason}. Pass a local folder, or try '
                          f'{other}. Downloads are cached in {cache_dir(hub)}.') from e


def read_donor(path: Path, role: str, allowed_types: Tuple[str, ...]) -> Donor:
    config_file = path / 'config.json'
    if not config_file.is_file():
        raise SpliceError(f'{role} donor {path} has no config.json')
    config = json.loads(config_file.read_text())
    if config.get('model_type') not in allowed_types:
        raise SpliceError(f'{role} donor {path} is model_type {config.get("model_type")!r}, '
                          f'expected one of {list(allowed_types)}')
    index = path / 'model.safetensors.index.json'
    if index.is_file():
        weight_map = json.loads(index.read_text())['weight_map']
        weights = {name: path / file for name, file in weight_map.items()}
    elif (path / 'model.safetensors').is_file():
        with safe_open(path / 'model.safetensors', 'pt') as f:
            weights = {name: path / 'model.safetensors' for name in f.keys()}
    else:
        raise SpliceError(f'{role} donor {path} has no model.safetensors (or its index)')
    missing = sorted({str(f) for f in weights.values() if not f.is_file()})
    if missing:
        raise SpliceError(f'{role} donor {path} is missing weight files: {missing}')
    return Donor(path, config, weights)


def llm_weight_names(donor: Donor) -> Dict[str, str]:
    """Qwen3ForCausalLM names -> names inside the spliced model."""
    out = {}
    for name in donor.weights:
        if name.startswith('model.'):
            out[name] = 'model.text_model.' + name[len('model.'):]
        elif name == 'lm_head.weight':
            out[name] = name
    return out


def vision_weight_names(donor: Donor) -> Dict[str, str]:
    prefixes = ('model.vision_model.', 'vision_model.')  # transformers 5 layout, and the older one
    return {n: 'model.vision_model.' + n.split('vision_model.', 1)[1] for n in donor.weights if n.startswith(prefixes)}


def splice_config(vision_config: dict, llm_config: dict, tokenizer) -> SmolVLMConfig:
    """The SmolVLM config of the splice, from the two donors' config.json dicts; ids come from the tokenizer."""
    text_config = {k: v for k, v in llm_config.items() if k not in ('architectures', 'transformers_version')}
    tie = bool(llm_config.get('tie_word_embeddings', False))
    text_config.update(
        tie_word_embeddings=tie,  # vLLM reads text_config's flag, transformers the top-level one: keep them equal
        eos_token_id=token_id(tokenizer, tokenizer.eos_token),
        pad_token_id=token_id(tokenizer, tokenizer.pad_token),
    )
    if len(tokenizer) > text_config['vocab_size']:
        raise SpliceError(f'tokenizer has {len(tokenizer)} tokens but the LLM vocab_size is {text_config["vocab_size"]}')
    config = SmolVLMConfig(
        vision_config=vision_config['vision_config'],
        text_config=text_config,
        scale_factor=vision_config.get('scale_factor', 2),
        image_token_id=token_id(tokenizer, IMAGE_TOKEN),
        pad_token_id=text_config['pad_token_id'],
        tie_word_embeddings=tie,
        architectures=[ARCHITECTURE],
        dtype=llm_config.get('dtype') or llm_config.get('torch_dtype') or 'float32',
    )
    patches = config.vision_config.image_size // config.vision_config.patch_size
    if patches % config.scale_factor:
        raise SpliceError(f'vision grid {patches}x{patches} is not divisible by scale_factor {config.scale_factor}')
    return config


def rms(tensor: torch.Tensor, rows_per_chunk: int = 4096) -> float:
    """Root mean square in float64, a chunk of rows at a time (a float copy of a 151k-row embedding is 0.6 GB)."""
    flat = tensor.reshape(tensor.shape[0], -1)
    total = sum(chunk.double().pow(2).sum().item() for chunk in flat.split(rows_per_chunk))
    return math.sqrt(total / tensor.numel())


def connector_shape(config: SmolVLMConfig) -> Tuple[int, int]:
    """(out, in) of the pixel-shuffle projection: vision_hidden * scale_factor^2 -> LLM hidden."""
    return config.text_config.hidden_size, config.vision_config.hidden_size * config.scale_factor**2


def init_connector(config: SmolVLMConfig, embed_rms: float, dtype: torch.dtype, seed: int) -> torch.Tensor:
    """Normal init scaled so that unit-variance vision features land at the RMS of the LLM's own embeddings.

    The LLM is frozen in stage 1: image tokens that arrive at the scale its first layer was trained on keep
    the first steps' activations and gradients in range, whatever the LLM's width.
    """
    out_features, in_features = connector_shape(config)
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(out_features, in_features, generator=gen) * (embed_rms / math.sqrt(in_features))
    return weight.to(dtype)


def iter_tensors(sources: Dict[str, Tuple[Path, str]]) -> Iterator[Tuple[str, torch.Tensor]]:
    """Yield (new name, tensor) one at a time.

    Each tensor gets its own safe_open: tensors are views of the file's mmap, and a mapping kept open for a
    whole donor would keep every page already written resident, growing RSS by the donor's size.
    """
    for new_name, (file, old_name) in sources.items():
        with safe_open(file, 'pt') as f:
            tensor = f.get_tensor(old_name)
        yield new_name, tensor


def write_shards(tensors: Iterator[Tuple[str, torch.Tensor]], out: Path, total: int) -> None:
    """Write safetensors shards of at most SHARD_BYTES, holding one shard in memory at a time."""
    written, current, size = [], {}, 0  # written: (temporary file name, tensor names) per shard

    def flush():
        nonlocal current, size
        if current:
            name = f'shard-{len(written):05d}.safetensors'
            save_file(current, out / name, metadata={'format': 'pt'})
            written.append((name, list(current)))
            current, size = {}, 0

    for name, tensor in tqdm(tensors, total=total, desc='writing tensors', unit='tensor'):
        nbytes = tensor.numel() * tensor.element_size()
        if current and size + nbytes > SHARD_BYTES:
            flush()
        current[name] = tensor.contiguous()
        size += nbytes
    flush()
    n = len(written)
    weight_map = {}
    for i, (tmp, names) in enumerate(written):
        final = 'model.safetensors' if n == 1 else f'model-{i + 1:05d}-of-{n:05d}.safetensors'
        os.replace(out / tmp, out / final)
        weight_map.update({k: final for k in names})
    if n > 1:
        total_size = sum((out / f).stat().st_size for f in set(weight_map.values()))
        index = {'metadata': {'total_size': total_size}, 'weight_map': dict(sorted(weight_map.items()))}
        (out / 'model.safetensors.index.json').write_text(json.dumps(index, indent=2))


def parameter_counts(config: SmolVLMConfig) -> Dict[str, int]:
    """Exact parameter counts per part, from the config alone (meta tensors, nothing allocated)."""
    from transformers import AutoModelForImageTextToText
    with torch.device('meta'):
        model = AutoModelForImageTextToText.from_config(config)
    parts = {
        'vision_tower': model.model.vision_model,
        'connector': model.model.connector,
        'llm': model.model.text_model,
    }
    counts = {k: sum(p.numel() for p in m.parameters()) for k, m in parts.items()}
    counts['lm_head'] = 0 if config.tie_word_embeddings else model.lm_head.weight.numel()
    counts['total'] = sum(p.numel() for p in model.parameters())  # a tied head is one tensor, counted once
    return counts


def chat_template() -> str:
    return (DATA_DIR / 'chat_template.jinja').read_text().replace('[[IMAGE_TOKEN]]', IMAGE_TOKEN)


def tokens_per_tile(config: SmolVLMConfig) -> int:
    """Image tokens per tile: the tower's patch grid, pixel-shuffled by scale_factor in each direction."""
    vc = config.vision_config
    return (vc.image_size // vc.patch_size)**2 // config.scale_factor**2


def build_processor(vision: Donor, llm: Donor, config: SmolVLMConfig):
    from transformers import AutoVideoProcessor, SmolVLMProcessor
    tokenizer = AutoTokenizer.from_pretrained(llm.path, **PROCESSOR_TOKENS)
    tokenizer.chat_template = template = chat_template()
    image_seq_len = tokens_per_tile(config)
    processor_config = vision.path / 'processor_config.json'
    declared = json.loads(processor_config.read_text()).get('image_seq_len') if processor_config.is_file() else None
    if declared is not None and declared != image_seq_len:
        raise SpliceError(f'vision donor declares image_seq_len {declared}, its config implies {image_seq_len}')
    return SmolVLMProcessor(
        image_processor=AutoImageProcessor.from_pretrained(vision.path),
        tokenizer=tokenizer,
        video_processor=AutoVideoProcessor.from_pretrained(vision.path),
        image_seq_len=image_seq_len,
        chat_template=template,
    )


def generation_config(llm: Donor, tokenizer) -> GenerationConfig:
    """Qwen's sampling defaults with stop and pad tokens read from the tokenizer."""
    base = GenerationConfig.from_pretrained(llm.path) if (llm.path / 'generation_config.json').is_file() else None
    kwargs = base.to_diff_dict() if base else {}
    kwargs.pop('transformers_version', None)
    kwargs.update(
        eos_token_id=[token_id(tokenizer, tokenizer.eos_token), token_id(tokenizer, tokenizer.pad_token)],
        pad_token_id=token_id(tokenizer, tokenizer.pad_token),
    )
    return GenerationConfig(**kwargs)


def vision_weight_overrides(vision_weights: Path, targets: Dict[str, Tuple[Path, str]],
                            shapes: Dict[str, tuple]) -> Tuple[Dict[str, Tuple[Path, str]], list]:
    """Point vision tensors at a SigLIP(2) checkpoint wherever name (after 'vision_model.') and shape match."""
    donor = read_donor(vision_weights, 'vision-weights', ('siglip', 'siglip2', 'siglip_vision_model',
                                                          'siglip2_vision_model', 'smolvlm', 'idefics3'))
    bare_tower = donor.config['model_type'].endswith('vision_model')  # a saved *VisionModel has no prefix
    by_suffix = {}
    for name, file in donor.weights.items():
        if 'vision_model.' in name or bare_tower:
            with safe_open(file, 'pt') as f:
                shape = tuple(f.get_slice(name).get_shape())
            by_suffix[name.split('vision_model.', 1)[-1]] = (file, name, shape)
    matched, skipped = {}, []
    for new_name in targets:
        suffix = new_name.split('vision_model.', 1)[1]
        hit = by_suffix.get(suffix)
        if hit and hit[2] == shapes[new_name]:
            matched[new_name] = (hit[0], hit[1])
        else:
            skipped.append(new_name)
    if not matched:
        raise SpliceError(f'--vision-weights {vision_weights}: no tensor matches the vision tower by name and shape')
    return matched, skipped


def build(vision_dir: Path, llm_dir: Path, out: Path, *, overwrite: bool = False, seed: int = 0,
          vision_weights: Optional[Path] = None, self_check: bool = True, origin: Optional[dict] = None) -> dict:
    """Validate the donors, write the spliced checkpoint to a temporary folder, check it, then move it into place."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise SpliceError(f'output folder {out} exists (pass --overwrite to replace it)')
    vision = read_donor(Path(vision_dir), 'vision', VISION_TYPES)
    llm = read_donor(Path(llm_dir), 'llm', LLM_TYPES)
    if 'vision_config' not in vision.config:
        raise SpliceError(f'vision donor {vision.path} has no vision_config')
    for needed in ('preprocessor_config.json', ):
        if not (vision.path / needed).is_file():
            raise SpliceError(f'vision donor {vision.path} has no {needed}')
    try:
        tokenizer = AutoTokenizer.from_pretrained(llm.path)
    except Exception as e:  # noqa: BLE001 - re-raised with the folder named
        raise SpliceError(f'llm donor {llm.path} has no loadable tokenizer: {e}') from e
    missing = missing_tokens(tokenizer)
    if missing:
        raise SpliceError(f'llm tokenizer in {llm.path} lacks the tokens {missing}')
    config = splice_config(vision.config, llm.config, tokenizer)
    counts = parameter_counts(config)

    llm_names = llm_weight_names(llm)
    if 'model.embed_tokens.weight' not in llm_names:
        raise SpliceError(f'llm donor {llm.path} has no model.embed_tokens.weight')
    vision_names = vision_weight_names(vision)
    if not vision_names:
        raise SpliceError(f'vision donor {vision.path} has no vision_model tensors')
    with safe_open(llm.weights['model.embed_tokens.weight'], 'pt') as f:
        embed = f.get_tensor('model.embed_tokens.weight')
        embed_rms, dtype = rms(embed), embed.dtype
        if embed.shape[1] != config.text_config.hidden_size:
            raise SpliceError(f'llm embeddings are {tuple(embed.shape)}, hidden_size is {config.text_config.hidden_size}')
        del embed
    sources = {new: (vision.weights[old], old) for old, new in vision_names.items()}
    skipped = []
    if vision_weights is not None:
        shapes = {}
        for new, (file, old) in sources.items():
            with safe_open(file, 'pt') as f:
                shapes[new] = tuple(f.get_slice(old).get_shape())
        matched, skipped = vision_weight_overrides(Path(vision_weights), sources, shapes)
        sources.update(matched)
        log.info('vision weights: %d tensors from %s, %d kept from the donor', len(matched), vision_weights, len(skipped))
    sources.update({new: (llm.weights[old], old) for old, new in llm_names.items()})
    if config.tie_word_embeddings:
        sources.pop('lm_head.weight', None)  # tied: saved once, as the embeddings
    elif 'lm_head.weight' not in sources:
        raise SpliceError(f'llm donor {llm.path} is untied but has no lm_head.weight')

    connector = init_connector(config, embed_rms, dtype, seed)

    def tensors():
        yield 'model.connector.modality_projection.proj.weight', connector
        yield from iter_tensors(sources)

    t0 = time.time()
    with atomic_folder(out) as tmp:
        write_shards(tensors(), tmp, total=len(sources) + 1)
        config.save_pretrained(tmp)
        generation_config(llm, tokenizer).save_pretrained(tmp)
        processor = build_processor(vision, llm, config)
        processor.save_pretrained(tmp)
        write_time = time.time() - t0
        write_peak = peak_rss_bytes()
        check = run_self_check(tmp) if self_check else None  # before the move: a blind build never lands
        manifest = {
            'architecture': ARCHITECTURE,
            'sources': {'vision': str(vision.path), 'llm': str(llm.path),
                        'vision_weights': str(vision_weights) if vision_weights else None, **(origin or {})},
            'parameters': counts,
            'tokens': {t: token_id(tokenizer, t) for t in REQUIRED_TOKENS},
            'connector_init': {'kind': 'normal, std = rms(llm embeddings) / sqrt(in_features)', 'seed': seed,
                               'embed_rms': embed_rms, 'shape': list(connector_shape(config))},
            'vision_weights_skipped': skipped,
            'self_check': check,
        }
        (tmp / 'README.md').write_text(model_card(manifest, config))
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    return {'out': str(out), 'parameters': counts, 'write_seconds': write_time, 'write_peak_rss': write_peak,
            'seconds': time.time() - t0, 'peak_rss': peak_rss_bytes(), 'self_check': check}


def peak_rss_bytes() -> int:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def model_card(manifest: dict, config: SmolVLMConfig) -> str:
    p = manifest['parameters']
    rows = '\n'.join(f'| {k} | {v:,} |' for k, v in p.items())
    return f"""---
library_name: transformers
pipeline_tag: image-text-to-text
---
# Qwen3-SmVL (spliced, untrained connector)

SmolVLM2's SigLIP vision tower and pixel-shuffle connector in front of Qwen3, as a plain `smolvlm` checkpoint:
`AutoModelForImageTextToText.from_pretrained` and `AutoProcessor.from_pretrained` load it without custom code.
The connector ({manifest['connector_init']['shape'][1]} -> {manifest['connector_init']['shape'][0]}) is freshly
initialised ({manifest['connector_init']['kind']}): train it (stage 1) before expecting the model to see.

Sources: vision `{manifest['sources']['vision']}`, language model `{manifest['sources']['llm']}`.
Chat format: Qwen3's (`<|im_start|>`, `<think>`, tool calls); images as SmolVLM tiles inside Qwen's vision tokens,
image token `{IMAGE_TOKEN}` (id {config.image_token_id}), {config.scale_factor}x pixel shuffle.

| part | parameters |
|---|---|
{rows}
"""
