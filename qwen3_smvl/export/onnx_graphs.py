"""The splice as ONNX in the split transformers.js and onnxruntime use for SmolVLM / Idefics3.

  onnx/vision_encoder.onnx       pixel_values [batch, images, 3, H, W], pixel_attention_mask -> image_features
                                 (SigLIP tower + pixel-shuffle connector: one row of LLM embeddings per image token)
  onnx/embed_tokens.onnx         input_ids -> inputs_embeds
  onnx/decoder_model_merged.onnx inputs_embeds, attention_mask, position_ids, past_key_values.{i}.key/value
                                 -> logits, present.{i}.key/value; past of length 0 on the first step, so one graph
                                 serves the first and the later steps
  + config, generation config, tokenizer, processor and chat template files: the folder is self-contained, for
    transformers and onnxruntime and for transformers.js (qwen3_smvl/export/transformers_js.py)

optimum(-onnx) has no exporter for idefics3/smolvlm, and its qwen3 decoder export takes input_ids, not the
inputs_embeds a VLM decoder needs; so all three graphs come from torch.onnx.export: the vision encoder through
torch.export (dynamo), the embeddings and the decoder through the TorchScript exporter (the one that handles a
DynamicCache built from flat past tensors).
"""
import json
import logging
import shutil
from pathlib import Path
from typing import Dict, List, Optional

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor, DynamicCache

from qwen3_smvl.atomic import atomic_folder
from qwen3_smvl.export.transformers_js import write_transformers_js_files

logger = logging.getLogger('qwen3_smvl')
GRAPHS = ('vision_encoder', 'embed_tokens', 'decoder_model_merged')
QUANTIZATIONS = ('int8', 'q4', 'fp16')  # file suffixes as transformers.js names them: decoder_model_merged_int8.onnx
OPSET = 18
EXTERNAL_DATA_BYTES = 1 << 30  # graphs bigger than this keep their weights in GRAPH.onnx_data (protobuf stops at 2 GB)


class ExportError(ValueError):
    """A checkpoint that cannot be exported, or an output that must not be overwritten; the message says which."""


class VisionEncoder(nn.Module):
    """Tiles -> image features, as SmolVLM's get_image_features, without its dropping of all-zero padding images."""

    def __init__(self, model):
        super().__init__()
        self.model = model.model

    def forward(self, pixel_values, pixel_attention_mask):
        pixel_values = pixel_values.flatten(0, 1)
        mask = pixel_attention_mask.flatten(0, 1)
        n, height, width = mask.shape
        p = self.model.config.vision_config.patch_size
        # which patches hold any image; a reshape where transformers unfolds (Unfold has no dynamic ONNX export)
        patch_mask = mask.reshape(n, height // p, p, width // p, p).to(torch.int32).sum(dim=(2, 4)) > 0
        hidden = self.model.vision_model(pixel_values=pixel_values, patch_attention_mask=patch_mask).last_hidden_state
        return self.model.connector(hidden)


class EmbedTokens(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.embed = model.get_input_embeddings()

    def forward(self, input_ids):
        return self.embed(input_ids)


class Decoder(nn.Module):
    """Qwen3 and its head on inputs_embeds, with the cache passed as flat tensors (what ONNX graphs can carry)."""

    def __init__(self, model):
        super().__init__()
        self.text_model, self.lm_head = model.model.text_model, model.lm_head
        self.text_config = model.config.text_config

    def forward(self, inputs_embeds, attention_mask, position_ids, *past):
        cache = DynamicCache(config=self.text_config)
        for layer in range(len(past) // 2):
            cache.update(past[2 * layer], past[2 * layer + 1], layer)
        out = self.text_model(inputs_embeds=inputs_embeds, attention_mask=attention_mask, position_ids=position_ids,
                              past_key_values=cache, use_cache=True)
        presents = [t for layer in out.past_key_values.layers for t in (layer.keys, layer.values)]
        return (self.lm_head(out.last_hidden_state), *presents)


def past_names(num_layers: int, prefix: str = 'past_key_values') -> List[str]:
    return [f'{prefix}.{i}.{kind}' for i in range(num_layers) for kind in ('key', 'value')]


def check_checkpoint(model_dir: Path) -> None:
    if not (model_dir / 'config.json').is_file():
        raise ExportError(f'{model_dir} is not a checkpoint folder (no config.json)')
    config = json.loads((model_dir / 'config.json').read_text())
    text_type = (config.get('text_config') or {}).get('model_type')
    if config.get('model_type') != 'smolvlm' or text_type != 'qwen3':
        raise ExportError(f'{model_dir} is model_type {config.get("model_type")!r} with text model {text_type!r}; '
                          'expected a splice (smolvlm with qwen3), as tools/build_model.py writes')
    if not any(model_dir.glob('*.safetensors')):
        raise ExportError(f'{model_dir} has no safetensors weights (a LoRA checkpoint? merge it first: '
                          'tools/merge_lora.py)')


def save_graph(proto, path: Path, large: bool) -> None:
    import onnx
    if large:
        onnx.save(proto, path, save_as_external_data=True, all_tensors_to_one_file=True, location=path.name + '_data')
    else:
        onnx.save(proto, path)


def is_large(path: Path) -> bool:
    """Whether a graph, with whatever external data files the exporter wrote beside it, needs external data."""
    return sum(f.stat().st_size for f in path.parent.iterdir()) > EXTERNAL_DATA_BYTES


def export_graphs(model, onnx_dir: Path) -> None:
    """The three fp32 graphs from a float32 model, with the axes that vary marked dynamic."""
    import onnx
    for graph, export_one in (('vision_encoder', export_vision), ('embed_tokens', export_embeddings),
                              ('decoder_model_merged', export_decoder)):
        scratch = onnx_dir / f'.{graph}'  # the exporters may write a file per tensor: gathered into one below
        scratch.mkdir()
        exported = scratch / f'{graph}.onnx'
        export_one(model, exported)
        save_graph(onnx.load(exported), onnx_dir / f'{graph}.onnx', is_large(exported))
        shutil.rmtree(scratch)
        logger.info(f'{graph}.onnx written')


def export_vision(model, path: Path) -> None:
    size = model.config.vision_config.image_size
    tiles = (torch.randn(1, 2, 3, size, size), torch.ones(1, 2, size, size, dtype=torch.bool))
    batch, images = torch.export.Dim('batch_size'), torch.export.Dim('num_images')
    torch.onnx.export(VisionEncoder(model), tiles, str(path), dynamo=True, opset_version=OPSET,
                      input_names=['pixel_values', 'pixel_attention_mask'], output_names=['image_features'],
                      dynamic_shapes=({0: batch, 1: images}, {0: batch, 1: images}), external_data=True)


def export_embeddings(model, path: Path) -> None:
    torch.onnx.export(EmbedTokens(model), (torch.tensor([[1, 2, 3]]), ), str(path),
                      dynamo=False, opset_version=OPSET, input_names=['input_ids'], output_names=['inputs_embeds'],
                      dynamic_axes={'input_ids': {0: 'batch_size', 1: 'sequence_length'},
                                    'inputs_embeds': {0: 'batch_size', 1: 'sequence_length'}})


def export_decoder(model, path: Path) -> None:
    text = model.config.text_config
    past, present = past_names(text.num_hidden_layers), past_names(text.num_hidden_layers, 'present')
    kv_shape = (1, text.num_key_value_heads, 2, text.head_dim)
    example = (torch.randn(1, 3, text.hidden_size), torch.ones(1, 5, dtype=torch.long), torch.tensor([[2, 3, 4]]),
               *(torch.randn(kv_shape) for _ in past))
    axes = {'inputs_embeds': {0: 'batch_size', 1: 'sequence_length'},
            'attention_mask': {0: 'batch_size', 1: 'total_sequence_length'},
            'position_ids': {0: 'batch_size', 1: 'sequence_length'}, 'logits': {0: 'batch_size', 1: 'sequence_length'},
            **{name: {0: 'batch_size', 2: 'past_sequence_length'} for name in past},
            **{name: {0: 'batch_size', 2: 'total_sequence_length'} for name in present}}
    torch.onnx.export(Decoder(model), example, str(path), dynamo=False,
                      opset_version=OPSET, input_names=['inputs_embeds', 'attention_mask', 'position_ids', *past],
                      output_names=['logits', *present], dynamic_axes=axes)


def quantize(onnx_dir: Path, graph: str, method: str) -> Path:
    """One graph quantized next to its fp32 file, named as transformers.js expects (GRAPH_METHOD.onnx)."""
    import onnx
    source, target = onnx_dir / f'{graph}.onnx', onnx_dir / f'{graph}_{method}.onnx'
    large = (onnx_dir / f'{graph}.onnx_data').exists()
    if method == 'int8':  # weights int8, activations quantized at run time
        from onnxruntime.quantization import QuantType, quantize_dynamic
        quantize_dynamic(source, target, weight_type=QuantType.QInt8, use_external_data_format=large)
        if large:  # it names the weights GRAPH_int8.onnx.data; transformers.js fetches GRAPH_int8.onnx_data
            save_graph(onnx.load(target), target, large)
            (onnx_dir / f'{target.name}.data').unlink()
    elif method == 'q4':  # MatMul weights in 4-bit blocks (MatMulNBits); the rest stays fp32
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
        quantizer = MatMulNBitsQuantizer(onnx.load(source), block_size=32, is_symmetric=True)
        quantizer.process()
        save_graph(quantizer.model.model, target, large)
    else:  # fp16 weights and compute, fp32 inputs and outputs
        from onnxruntime.transformers.float16 import convert_float_to_float16
        # shape inference runs on the serialized graph, which protobuf cannot hold past 2 GB
        save_graph(convert_float_to_float16(onnx.load(source), keep_io_types=True, disable_shape_infer=large), target,
                   large)
    return target


def export(model_dir: Path, out: Path, *, quantizations: Optional[List[str]] = None,
           overwrite: bool = False) -> Dict[str, int]:
    """Write the ONNX folder atomically; the size in bytes of each .onnx file (with its external data)."""
    model_dir, out = Path(model_dir), Path(out)
    check_checkpoint(model_dir)
    for method in quantizations or []:
        if method not in QUANTIZATIONS:
            raise ExportError(f'unknown quantization {method!r}; choose from {", ".join(QUANTIZATIONS)}')
    if out.exists() and not overwrite:
        raise ExportError(f'output folder {out} exists (pass --overwrite to replace it)')
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32, attn_implementation='eager')
    model.eval()
    processor = AutoProcessor.from_pretrained(model_dir)
    with atomic_folder(out) as tmp, torch.no_grad():
        (tmp / 'onnx').mkdir()
        export_graphs(model, tmp / 'onnx')
        for method in quantizations or []:
            for graph in GRAPHS:
                quantize(tmp / 'onnx', graph, method)
                logger.info(f'{graph}_{method}.onnx written')
        AutoConfig.from_pretrained(model_dir).save_pretrained(tmp)
        processor.save_pretrained(tmp)  # tokenizer, image processor and chat template
        if (model_dir / 'generation_config.json').exists():
            shutil.copy(model_dir / 'generation_config.json', tmp)
        write_transformers_js_files(tmp)  # preprocessor_config.json, chat template key, smvl_app.json
    return folder_sizes(out / 'onnx')


def folder_sizes(onnx_dir: Path) -> Dict[str, int]:
    """Bytes per graph file, counting the external-data files that belong to it."""
    sizes = {}
    for graph in sorted(onnx_dir.glob('*.onnx')):
        sizes[graph.name] = sum(f.stat().st_size for f in onnx_dir.glob(graph.name + '*'))
    return sizes
