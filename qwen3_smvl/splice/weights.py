"""Donor folders in, safetensors shards out: reading donors, mapping tensor names, streaming one tensor at a time."""
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, Tuple

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from tqdm import tqdm

from ..inputs import cache_dir, hub_name, hub_reachable, looks_local, offline_advice
from .config import SpliceError

SHARD_BYTES = 256 * 2**20  # one shard is held twice while safetensors serialises it


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


def tensor_shape(file: Path, name: str) -> tuple:
    with safe_open(file, 'pt') as f:
        return tuple(f.get_slice(name).get_shape())


def vision_weight_overrides(vision_weights: Path, targets: Dict[str, Tuple[Path, str]]
                            ) -> Tuple[Dict[str, Tuple[Path, str]], list]:
    """Point vision tensors at a SigLIP(2) checkpoint wherever name (after 'vision_model.') and shape match."""
    donor = read_donor(vision_weights, 'vision-weights', ('siglip', 'siglip2', 'siglip_vision_model',
                                                          'siglip2_vision_model', 'smolvlm', 'idefics3'))
    bare_tower = donor.config['model_type'].endswith('vision_model')  # a saved *VisionModel has no prefix
    by_suffix = {name.split('vision_model.', 1)[-1]: (file, name) for name, file in donor.weights.items()
                 if 'vision_model.' in name or bare_tower}
    matched, skipped = {}, []
    for new_name, (file, old_name) in targets.items():
        hit = by_suffix.get(new_name.split('vision_model.', 1)[1])
        if hit and tensor_shape(*hit) == tensor_shape(file, old_name):
            matched[new_name] = hit
        else:
            skipped.append(new_name)
    if not matched:
        raise SpliceError(f'--vision-weights {vision_weights}: no tensor matches the vision tower by name and shape')
    return matched, skipped


def rms(tensor: torch.Tensor, rows_per_chunk: int = 4096) -> float:
    """Root mean square in float64, a chunk of rows at a time (a float copy of a 151k-row embedding is 0.6 GB)."""
    flat = tensor.reshape(tensor.shape[0], -1)
    total = sum(chunk.double().pow(2).sum().item() for chunk in flat.split(rows_per_chunk))
    return math.sqrt(total / tensor.numel())


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
