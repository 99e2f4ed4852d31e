"""Export a spliced, trained or merged checkpoint as GGUF for llama.cpp, llama-cpp-python, ollama and LM Studio.

  python tools/export_gguf.py --model runs/demo/stage2/last-checkpoint --out runs/gguf [--type f16 q8_0 q4_k_m]

Writes OUT/NAME-TYPE.gguf per type (the text model), OUT/mmproj-NAME-f16.gguf (vision tower and connector) and
OUT/Modelfile (ollama), atomically, through llama.cpp's own converter and quantizer (docs/gguf.md).
Then: python tools/export_gguf.py ... --ask IMAGE "图中有什么？" answers with llama-cpp-python alone.
"""
import argparse
import logging
import sys
import time
from pathlib import Path

from qwen3_smvl.export.gguf import TYPES, ExportError, export


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', required=True, type=Path, help='checkpoint folder (a LoRA checkpoint: merge it first)')
    ap.add_argument('--out', required=True, type=Path)
    ap.add_argument('--type', nargs='+', default=['f16'], choices=TYPES, dest='types',
                    help='text model types, one file each (the first is the one the Modelfile names)')
    ap.add_argument('--name', default='qwen3-smvl', help='file name stem (default: qwen3-smvl)')
    ap.add_argument('--overwrite', action='store_true', help='replace an existing output folder')
    ap.add_argument('--ask', nargs=2, metavar=('IMAGE', 'QUESTION'),
                    help='then answer QUESTION about IMAGE with the first type, through llama-cpp-python')
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s: %(message)s')
    start = time.time()
    try:
        sizes = export(args.model, args.out, types=args.types, name=args.name, overwrite=args.overwrite)
    except ExportError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(f'wrote {args.out} in {time.time() - start:.0f}s')
    for name, size in sizes.items():
        print(f'  {name}: {size / 2**20:.1f} MiB')
    if args.ask:
        from qwen3_smvl.export.gguf_runtime import GgufVLM
        from qwen3_smvl.images import open_image
        print(GgufVLM(args.out, args.types[0], name=args.name).answer([open_image(args.ask[0])], args.ask[1]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
