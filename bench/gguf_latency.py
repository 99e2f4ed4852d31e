"""GGUF export of the real-dimension random splice (SigLIP-base + Qwen3-0.6B): llama.cpp's CPU latency at f16, q8_0
and q4_k_m beside onnxruntime int8 and transformers fp32, on the same CPU in one run; file sizes.

  python bench/gguf_latency.py [--work DIR] [--new-tokens 16] [--threads 0]

One 2048x512 picture and a Chinese question: its long side at the processor's longest edge, so SmolVLM2's resize
(mtmd's) and the recipes' shrink-only policy (onnxruntime's loop) give the same prompt, 4x1 tiles and a global view
(320 image tokens). First-token time (vision encoder + prompt) and decode tokens/s over --new-tokens greedy steps, not stopped at
an end-of-turn (the weights are random). transformers runs the same prompt in float32 with SDPA attention.
"""
import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import torch
from onnx_latency import QUESTION, onnx_latency, print_table, transformers_latency
from PIL import Image

from qwen3_smvl.splice.donors import make_donors
from qwen3_smvl.splice.surgery import build
from qwen3_smvl.export import gguf, onnx_graphs
from qwen3_smvl.export.gguf_runtime import GgufVLM
from qwen3_smvl.export.onnx_runtime import OnnxVLM

GGUF_TYPES = ('f16', 'q8_0', 'q4_k_m')


def gguf_latency(runner: GgufVLM, image: Image.Image, new_tokens: int) -> tuple:
    """(seconds to the first token, decode tokens/s)."""
    start = time.perf_counter()
    logits = runner.prefill([image], QUESTION)
    first = time.perf_counter() - start
    start = time.perf_counter()
    runner.decode(logits, new_tokens, stop_tokens=set())  # no stop tokens: the full count
    return first, new_tokens / (time.perf_counter() - start)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--work', type=Path, help='scratch folder (default: a temporary one, removed after)')
    ap.add_argument('--new-tokens', type=int, default=16)
    ap.add_argument('--threads', type=int, default=0, help='threads for every runtime (0: one per core)')
    ap.add_argument('--reuse', action='store_true', help="reuse WORK's splice and exports from an earlier run")
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix='smvl-bench-gguf-'))
    threads = args.threads or os.cpu_count()
    torch.set_num_threads(threads)
    try:
        if args.reuse and (work / 'gguf').is_dir() and (work / 'onnx').is_dir():
            sizes = {f.name: f.stat().st_size for f in (work / 'gguf').iterdir()}
            onnx_sizes = onnx_graphs.folder_sizes(work / 'onnx' / 'onnx')
        else:
            make_donors('real', work / 'donors')
            build(work / 'donors' / 'vision', work / 'donors' / 'llm', work / 'spliced', overwrite=True,
                  self_check=False)
            start = time.perf_counter()
            sizes = gguf.export(work / 'spliced', work / 'gguf', types=list(GGUF_TYPES), overwrite=True)
            print(f'GGUF export ({", ".join(GGUF_TYPES)} + mmproj): {time.perf_counter() - start:.0f} s')
            onnx_sizes = onnx_graphs.export(work / 'spliced', work / 'onnx', quantizations=['int8'], overwrite=True)
        mmproj = sizes[gguf.file_names('qwen3-smvl', 'f16')['mmproj']]
        image = Image.new('RGB', (2048, 512), 'white')
        image.paste('red', (512, 128, 1536, 384))
        from transformers import AutoModelForImageTextToText
        model = AutoModelForImageTextToText.from_pretrained(work / 'spliced', dtype=torch.float32).eval()
        model.generation_config.eos_token_id = None  # decode the full count
        int8 = OnnxVLM(work / 'onnx', 'int8', threads=threads)
        inputs = {k: torch.from_numpy(v) for k, v in int8.encode([image], QUESTION).items()}
        print(f'prompt: {inputs["input_ids"].shape[1]} tokens, {inputs["pixel_values"].shape[1]} tiles')
        rows = [('transformers fp32', None, *transformers_latency(model, inputs, args.new_tokens))]
        del model
        int8_size = sum(size for name, size in onnx_sizes.items() if name.endswith('_int8.onnx'))
        rows.append(('onnxruntime int8', int8_size, *onnx_latency(int8, image, args.new_tokens)))
        del int8
        for quant_type in GGUF_TYPES:
            runner = GgufVLM(work / 'gguf', quant_type, threads=threads)
            size = sizes[gguf.file_names('qwen3-smvl', quant_type)['model']] + mmproj
            rows.append((f'llama.cpp {quant_type}', size, *gguf_latency(runner, image, args.new_tokens)))
            del runner
        print_table(rows)
        print(f'(llama.cpp files: the model and mmproj-qwen3-smvl-f16.gguf, {mmproj / 2**20:,.0f} MiB; onnxruntime: '
              'its three _int8 graphs)')
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
