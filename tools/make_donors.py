"""Generate random donor checkpoints in the exact on-disk formats of SmolVLM2 and Qwen3 (no hub needed).

  python tools/make_donors.py --preset {tiny,tiny-so400m,tiny-vocab,real} --out DIR    # writes DIR/vision and DIR/llm
  python tools/make_donors.py --preset real --vision-donor smolvlm2-2.2b --llm-donor qwen3-8b --out DIR

tiny: toy sizes, seconds to build. tiny-so400m: the same with SmolVLM2-2.2B's vision geometry (patch 14, pixel
shuffle 3) and an untied LLM head. real: the published dimensions of
SmolVLM2-256M-Video-Instruct and Qwen3-0.6B (or of the donors named: SmolVLM2-256M/500M/2.2B, Qwen3-0.6B/1.7B/4B/8B)
with random weights, and Qwen3's genuine tokenizer. --pretrain-vision N then teaches the vision donor's tower N
steps to tell the colour and shape under each patch of the synthetic pictures (the demo: a tower that sees).
"""
import argparse
import logging
from pathlib import Path

from qwen3_smvl.datasets.vision_pretraining import pretrain_vision
from qwen3_smvl.splice.donors import LLM_DONORS, TINY_PRESETS, VISION_DONORS, make_donors


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', choices=[*TINY_PRESETS, 'real'], default='tiny')
    ap.add_argument('--vision-donor', choices=list(VISION_DONORS), default='smolvlm2-256m', help='with --preset real')
    ap.add_argument('--llm-donor', choices=list(LLM_DONORS), default='qwen3-0.6b', help='with --preset real')
    ap.add_argument('--pretrain-vision', type=int, default=0, metavar='STEPS',
                    help='pre-train the vision tower on the synthetic pictures (datasets/vision_pretraining.py)')
    ap.add_argument('--out', required=True, type=Path, help='writes OUT/vision and OUT/llm')
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s: %(message)s')
    make_donors(args.preset, args.out, args.vision_donor, args.llm_donor)
    if args.pretrain_vision:
        pretrain_vision(args.out / 'vision', args.pretrain_vision)


if __name__ == '__main__':
    main()
