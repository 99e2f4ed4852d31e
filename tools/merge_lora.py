"""Merge a LoRA/DoRA training checkpoint into a standalone checkpoint, never leaving a half-written folder.

  python tools/merge_lora.py --adapters runs/stage2/last-checkpoint --out runs/stage2-merged

Runs `swift export --merge_lora` into a hidden sibling of OUT, checks that the result loads with plain transformers
and that an image changes its answer, then renames it into place. A kill at any point leaves OUT as it was.
"""
import argparse
import subprocess
import sys
from pathlib import Path

from qwen3_smvl.splice.check import BlindModelError
from qwen3_smvl.train.merge import merge_lora


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--adapters', required=True, type=Path, help='a LoRA/DoRA checkpoint folder of swift sft')
    ap.add_argument('--out', required=True, type=Path)
    args = ap.parse_args(argv)
    if not (args.adapters / 'adapter_config.json').is_file():
        print(f'error: {args.adapters} has no adapter_config.json: not a LoRA/DoRA checkpoint', file=sys.stderr)
        return 2
    try:
        check = merge_lora(args.adapters, args.out)
    except (subprocess.CalledProcessError, BlindModelError) as e:
        print(f'error: merging {args.adapters} failed, {args.out} left as it was: {e}', file=sys.stderr)
        return 1
    print(f'merged: {args.out} (self-check: logits differ between a real and a blank image by up to '
          f'{check["max_logit_diff_image_vs_blank"]:.3g})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
