"""ONNX export of the real-dimension random splice (SigLIP-base + Qwen3-0.6B): export time, size per quantization,
and onnxruntime's CPU latency against transformers' on the same CPU, in one run.

  python bench/onnx_latency.py [--work DIR] [--new-tokens 16] [--threads 0]

Latency: one 512x512 picture (image splitting off: one tile, 64 image tokens) and a Chinese question; time to the
first token (vision encoder + prompt) and decode tokens/s over --new-tokens steps (greedy, not stopped at an
end-of-turn: the weights are random). transformers runs the same prompt in float32 with SDPA attention.
"""
import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from qwen3_smvl.splice.donors import make_donors
from qwen3_smvl.splice.surgery import build
from qwen3_smvl.export.onnx_graphs import GRAPHS, QUANTIZATIONS, export
from qwen3_smvl.export.onnx_runtime import OnnxVLM

QUESTION = '图中有什么？'


def export_real_splice(work: Path, quantizations) -> dict:
    """The real-dimension random splice (work/spliced) exported to work/onnx, fp32 + quantizations: bytes per file."""
    make_donors('real', work / 'donors')
    build(work / 'donors' / 'vision', work / 'donors' / 'llm', work / 'spliced', overwrite=True, self_check=False)
    start = time.perf_counter()
    sizes = export(work / 'spliced', work / 'onnx', quantizations=list(quantizations), overwrite=True)
    print(f'export (fp32 + {", ".join(quantizations)}): {time.perf_counter() - start:.0f} s')
    return sizes


def bench_picture() -> Image.Image:
    """512x512: one tile and no splitting under the recipes' policy and with splitting off (64 image tokens)."""
    image = Image.new('RGB', (512, 512), 'white')
    image.paste('red', (128, 128, 384, 384))
    return image


def onnx_latency(runner: OnnxVLM, image: Image.Image, new_tokens: int) -> tuple:
    """(seconds to the first token, decode tokens/s)."""
    start = time.perf_counter()
    prefilled = runner.prefill([image], QUESTION)
    first = time.perf_counter() - start
    start = time.perf_counter()
    runner.decode(*prefilled, new_tokens)  # no stop tokens: the full count
    return first, new_tokens / (time.perf_counter() - start)


def transformers_latency(model, inputs: dict, new_tokens: int) -> tuple:
    with torch.no_grad():
        start = time.perf_counter()
        model.generate(**inputs, do_sample=False, max_new_tokens=1)
        first = time.perf_counter() - start
        start = time.perf_counter()
        model.generate(**inputs, do_sample=False, min_new_tokens=new_tokens + 1, max_new_tokens=new_tokens + 1)
        total = time.perf_counter() - start
    return first, new_tokens / (total - first)


def print_table(rows: list) -> None:
    """(runtime, file bytes or 0, first-token seconds, decode tokens/s) rows, each against the first row."""
    base_first, base_speed = rows[0][2], rows[0][3]
    print(f'{"runtime":<22}{"files":>10}{"first token":>14}{"decode":>14}{"vs transformers":>22}')
    for name, size, first, speed in rows:
        files = f'{size / 2**20:,.0f} MiB' if size else '-'
        print(f'{name:<22}{files:>10}{first:>12.2f} s{speed:>9.1f} tok/s'
              f'   {base_first / first:>5.2f}x first, {speed / base_speed:>5.2f}x decode')


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--work', type=Path, help='scratch folder (default: a temporary one, removed after)')
    ap.add_argument('--new-tokens', type=int, default=16)
    ap.add_argument('--threads', type=int, default=0, help='onnxruntime and torch threads (0: their defaults)')
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix='smvl-bench-onnx-'))
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        sizes = export_real_splice(work, QUANTIZATIONS)
        image = bench_picture()
        from transformers import AutoModelForImageTextToText
        model = AutoModelForImageTextToText.from_pretrained(work / 'spliced', dtype=torch.float32).eval()
        model.generation_config.eos_token_id = None  # decode the full count
        fp32 = OnnxVLM(work / 'onnx', threads=args.threads)
        fp32.processor.image_processor.do_image_splitting = False
        inputs = {k: torch.from_numpy(v) for k, v in fp32.encode([image], QUESTION).items()}
        rows = [('transformers fp32', None, *transformers_latency(model, inputs, args.new_tokens))]
        for quantization in (None, *QUANTIZATIONS):
            runner = fp32 if quantization is None else OnnxVLM(work / 'onnx', quantization, threads=args.threads)
            runner.processor.image_processor.do_image_splitting = False
            suffix = f'_{quantization}' if quantization else ''
            size = sum(sizes[f'{graph}{suffix}.onnx'] for graph in GRAPHS)
            rows.append((f'onnxruntime {quantization or "fp32"}', size, *onnx_latency(runner, image, args.new_tokens)))
        print_table(rows)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
