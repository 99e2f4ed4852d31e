"""Model surgery: SmolVLM2's vision tower in front of Qwen3, written as one SmolVLM checkpoint.

The output is a plain `smolvlm` checkpoint whose text_config is the Qwen3 config, so
AutoModelForImageTextToText / AutoProcessor load it without custom code.
"""
import json
import logging
import math
import time
from pathlib import Path
from typing import Dict, Optional, Tuple

import torch
from safetensors import safe_open
from transformers import AutoTokenizer, SmolVLMConfig

from ..atomic import atomic_folder
from ..tokens import REQUIRED_TOKENS, missing_tokens, token_id
from .card import model_card
from .chat import build_processor, generation_config
from .check import run_self_check
from .config import ARCHITECTURE, LLM_TYPES, MANIFEST, VISION_TYPES, SpliceError, connector_shape, splice_config
from .sizes import parameter_counts
from .weights import (
    Donor,
    iter_tensors,
    llm_weight_names,
    read_donor,
    rms,
    vision_weight_names,
    vision_weight_overrides,
    write_shards,
)

log = logging.getLogger(__name__)

CONNECTOR = 'model.connector.modality_projection.proj.weight'


def init_connector(config: SmolVLMConfig, embed_rms: float, dtype: torch.dtype, seed: int) -> torch.Tensor:
    """Normal init scaled so that unit-variance vision features land at the RMS of the LLM's own embeddings.

    The LLM is frozen in stage 1: image tokens that arrive at the scale its first layer was trained on keep
    the first steps' activations and gradients in range, whatever the LLM's width.
    """
    out_features, in_features = connector_shape(config)
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(out_features, in_features, generator=gen) * (embed_rms / math.sqrt(in_features))
    return weight.to(dtype)


def splice_sources(vision: Donor, llm: Donor, tied: bool) -> Dict[str, Tuple[Path, str]]:
    """The surgery: every tensor of the spliced model -> (donor file, donor tensor name). The connector is new.

    Vision tower from SmolVLM2 (its old connector is dropped: it projected into SmolLM2's width), the whole
    Qwen3 (decoder and head) under `model.text_model.`; a tied head is stored once, as the embeddings.
    """
    sources = {new: (vision.weights[old], old) for old, new in vision_weight_names(vision).items()}
    sources.update({new: (llm.weights[old], old) for old, new in llm_weight_names(llm).items()})
    if tied:
        sources.pop('lm_head.weight', None)
    elif 'lm_head.weight' not in sources:
        raise SpliceError(f'llm donor {llm.path} is untied but has no lm_head.weight')
    return sources


def read_donors(vision_dir: Path, llm_dir: Path) -> Tuple[Donor, Donor, object]:
    """Both donors and Qwen's tokenizer, refused in one line each when they are not what the splice needs."""
    vision = read_donor(Path(vision_dir), 'vision', VISION_TYPES)
    llm = read_donor(Path(llm_dir), 'llm', LLM_TYPES)
    if 'vision_config' not in vision.config:
        raise SpliceError(f'vision donor {vision.path} has no vision_config')
    if not (vision.path / 'preprocessor_config.json').is_file():
        raise SpliceError(f'vision donor {vision.path} has no preprocessor_config.json')
    if not vision_weight_names(vision):
        raise SpliceError(f'vision donor {vision.path} has no vision_model tensors')
    if 'model.embed_tokens.weight' not in llm.weights:
        raise SpliceError(f'llm donor {llm.path} has no model.embed_tokens.weight')
    try:
        tokenizer = AutoTokenizer.from_pretrained(llm.path)
    except Exception as e:  # noqa: BLE001 - re-raised with the folder named
        raise SpliceError(f'llm donor {llm.path} has no loadable tokenizer: {e}') from e
    missing = missing_tokens(tokenizer)
    if missing:
        raise SpliceError(f'llm tokenizer in {llm.path} lacks the tokens {missing}')
    return vision, llm, tokenizer


def embedding_stats(llm: Donor, hidden_size: int) -> Tuple[float, torch.dtype]:
    with safe_open(llm.weights['model.embed_tokens.weight'], 'pt') as f:
        embed = f.get_tensor('model.embed_tokens.weight')
    if embed.shape[1] != hidden_size:
        raise SpliceError(f'llm embeddings are {tuple(embed.shape)}, hidden_size is {hidden_size}')
    return rms(embed), embed.dtype


def build(vision_dir: Path, llm_dir: Path, out: Path, *, overwrite: bool = False, seed: int = 0,
          vision_weights: Optional[Path] = None, self_check: bool = True, origin: Optional[dict] = None) -> dict:
    """Validate the donors, write the spliced checkpoint to a temporary folder, check it, then move it into place."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise SpliceError(f'output folder {out} exists (pass --overwrite to replace it)')
    vision, llm, tokenizer = read_donors(vision_dir, llm_dir)
    config = splice_config(vision.config, llm.config, tokenizer)
    counts = parameter_counts(config)
    embed_rms, dtype = embedding_stats(llm, config.text_config.hidden_size)
    sources = splice_sources(vision, llm, config.tie_word_embeddings)
    skipped = []
    if vision_weights is not None:
        vision_targets = {k: v for k, v in sources.items() if k.startswith('model.vision_model.')}
        matched, skipped = vision_weight_overrides(Path(vision_weights), vision_targets)
        sources.update(matched)
        log.info('vision weights: %d tensors from %s, %d kept from the donor', len(matched), vision_weights, len(skipped))
    connector = init_connector(config, embed_rms, dtype, seed)

    def tensors():
        yield CONNECTOR, connector
        yield from iter_tensors(sources)

    t0 = time.time()
    with atomic_folder(out) as tmp:
        write_shards(tensors(), tmp, total=len(sources) + 1)
        config.save_pretrained(tmp)
        generation_config(llm, tokenizer).save_pretrained(tmp)
        build_processor(vision, llm, config).save_pretrained(tmp)
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
