"""Generate random donor checkpoints in the exact on-disk formats of SmolVLM2 and Qwen3 (no hub needed).

  python tools/make_donors.py --preset {tiny,real} --out DIR    # writes DIR/vision and DIR/llm

tiny: toy sizes, seconds to build. real: the published dimensions of SmolVLM2-256M-Video-Instruct and
Qwen3-0.6B with random weights, and a tokenizer that gives Qwen's special tokens their real ids.
"""
import argparse
import logging
from pathlib import Path

from qwen3_smvl.donors import make_donors


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', choices=['tiny', 'real'], default='tiny')
    ap.add_argument('--out', required=True, type=Path, help='writes OUT/vision and OUT/llm')
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s: %(message)s')
    make_donors(args.preset, args.out)


if __name__ == '__main__':
    main()
