"""Splice SmolVLM2's vision tower in front of Qwen3 and write one standard transformers checkpoint.

  python tools/build_model.py --vision <SmolVLM2 folder or hub id> --llm <Qwen3 folder or hub id> --out <folder>

Hub ids (e.g. HuggingFaceTB/SmolVLM2-256M-Video-Instruct, Qwen/Qwen3-0.6B) download through ModelScope
(or --hub hf); local folders work offline. The write is atomic and ends with a self-check that the model sees.
"""
import argparse
import logging
import sys
from pathlib import Path

from qwen3_smvl.splice.check import BlindModelError
from qwen3_smvl.splice.config import SpliceError
from qwen3_smvl.splice.surgery import build
from qwen3_smvl.splice.weights import resolve


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--vision', required=True, help='SmolVLM2 (smolvlm/idefics3) folder or hub id')
    ap.add_argument('--llm', required=True, help='Qwen3 folder or hub id')
    ap.add_argument('--out', required=True, type=Path)
    ap.add_argument('--overwrite', action='store_true', help='replace an existing output folder')
    ap.add_argument('--vision-weights', type=Path, help='SigLIP(2) folder whose matching tensors replace the tower')
    ap.add_argument('--hub', choices=['modelscope', 'hf'], default='modelscope')
    ap.add_argument('--seed', type=int, default=0, help='connector initialisation seed')
    ap.add_argument('--no-self-check', action='store_true', help='skip the blank-vs-real image check')
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s: %(message)s')
    try:
        result = build(resolve(args.vision, args.hub), resolve(args.llm, args.hub), args.out,
                       overwrite=args.overwrite, seed=args.seed, vision_weights=args.vision_weights,
                       self_check=not args.no_self_check, origin={'vision': args.vision, 'llm': args.llm})
    except (SpliceError, BlindModelError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    p = result['parameters']
    trainable = p['connector']
    print('parameters: ' + ', '.join(f'{k} {v:,}' for k, v in p.items()))
    print(f'connector-only training: trainable params: {trainable / 2**20:.2f}M || all params: '
          f'{p["total"] / 2**20:.2f}M || trainable%: {100 * trainable / p["total"]:.4f}')
    if result['self_check']:
        print(f'self-check: {result["self_check"]["image_tokens"]} image tokens = feature rows; logits differ '
              f'between a real and a blank image by up to {result["self_check"]["max_logit_diff_image_vs_blank"]:.3g}')
    print(f'wrote {result["out"]} in {result["seconds"]:.1f}s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
