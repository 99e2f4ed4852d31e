"""Draw the boxes of a model's answer (Qwen's grounding format, thousandths of the image size) on the image.

  python tools/draw_boxes.py IMAGE \
      "<|object_ref_start|>红色圆形<|object_ref_end|><|box_start|>(100,100),(300,500)<|box_end|>" --out OUT.png
"""
import argparse
import sys
from pathlib import Path

from qwen3_smvl.draw import draw_boxes
from qwen3_smvl.grounding import parse
from qwen3_smvl.images import ImageError, open_image


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('image', type=Path)
    ap.add_argument('answer', help='the generated text, special tokens kept')
    ap.add_argument('--out', type=Path, required=True, help='the picture with the boxes (PNG)')
    ap.add_argument('--colour', default='red')
    args = ap.parse_args(argv)
    try:
        image = open_image(str(args.image))
    except ImageError as e:
        print(f'error: {args.image}: {e}', file=sys.stderr)
        return 2
    parsed = parse(args.answer)
    for problem in parsed.problems:
        print(f'warning: {problem}', file=sys.stderr)
    if not parsed.boxes:
        print('error: no <|box_start|>(x1,y1),(x2,y2)<|box_end|> box in the answer', file=sys.stderr)
        return 1
    drawn = draw_boxes(image, [(b.to_pixels(*image.size), b.ref, args.colour) for b in parsed.boxes])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    drawn.save(args.out)
    for b in parsed.boxes:
        print(f'{b.ref or "(no ref)"}: ({b.x1},{b.y1}),({b.x2},{b.y2}) -> pixels '
              + ', '.join(f'{v:.0f}' for v in b.to_pixels(*image.size)))
    print(f'saved {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
