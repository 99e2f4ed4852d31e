"""Export a spliced, trained or merged checkpoint to ONNX for phones and browsers (onnxruntime, transformers.js).

  python tools/export_onnx.py --model runs/demo/stage2/last-checkpoint --out runs/onnx [--quantize int8 q4 fp16]

Writes OUT/onnx/{vision_encoder,embed_tokens,decoder_model_merged}.onnx (fp32), one more file per graph and
quantization (GRAPH_int8.onnx ...), and the config, tokenizer, processor and chat template files; atomically.
Then: python tools/export_onnx.py ... --ask IMAGE "图中有什么？" answers with onnxruntime alone.
"""
import argparse
import logging
import sys
import time
from pathlib import Path

from qwen3_smvl.export.onnx_graphs import QUANTIZATIONS, ExportError, export


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', required=True, type=Path, help='checkpoint folder (a LoRA checkpoint: merge it first)')
    ap.add_argument('--out', required=True, type=Path)
    ap.add_argument('--quantize', nargs='*', default=[], choices=QUANTIZATIONS, metavar='{int8,q4,fp16}',
                    help='extra quantized copies of each graph (int8: dynamic int8; q4: 4-bit MatMul weights; fp16)')
    ap.add_argument('--overwrite', action='store_true', help='replace an existing output folder')
    ap.add_argument('--ask', nargs=2, metavar=('IMAGE', 'QUESTION'), help='then answer QUESTION about IMAGE with it')
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s: %(message)s')
    start = time.time()
    try:
        sizes = export(args.model, args.out, quantizations=args.quantize, overwrite=args.overwrite)
    except ExportError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(f'wrote {args.out} in {time.time() - start:.0f}s')
    for name, size in sizes.items():
        print(f'  onnx/{name}: {size / 2**20:.1f} MiB')
    if args.ask:
        from qwen3_smvl.images import open_image
        from qwen3_smvl.export.onnx_runtime import OnnxVLM
        print(OnnxVLM(args.out).answer([open_image(args.ask[0])], args.ask[1]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
