"""Generate the synthetic Chinese visual QA set (swift jsonl + PNGs); point it at bigger sizes for real runs.

  python tools/make_dataset.py --out DIR [--train 400] [--test 60] [--size 64] [--grounding 200 --grounding-test 50]
                                        [--video 300 --video-test 60]
"""
import argparse
from pathlib import Path

from qwen3_smvl.datasets.synthetic import make_dataset
from qwen3_smvl.datasets.synthetic_video import make_video_dataset


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', required=True, type=Path)
    ap.add_argument('--train', type=int, default=400, help='training images')
    ap.add_argument('--test', type=int, default=60, help='held-out images (no training split of any seed draws them)')
    ap.add_argument('--size', type=int, default=64, help='image side in pixels')
    ap.add_argument('--questions-per-image', type=int, default=1,
                    help='questions asked of each training picture, one conversation turn each, of its 4 '
                         '(held-out pictures: one)')
    ap.add_argument('--empty', type=int, default=0,
                    help='more training rows asking about an empty picture, answered "图中没有..." (none there)')
    ap.add_argument('--text-only', type=int, default=12, help='text-only training samples mixed in')
    ap.add_argument('--grounding', type=int, default=0,
                    help='training images with a box question (grounding_train.jsonl)')
    ap.add_argument('--grounding-test', type=int, default=0, help='held-out images with a box question')
    ap.add_argument('--grounding-even-counts', action='store_true',
                    help='draw training box pictures one count (1, 2, 3 shapes) in three, as the held-out ones are; '
                         'default: evenly over the distinct pictures (most show three shapes)')
    ap.add_argument('--video', type=int, default=0,
                    help='training mp4 clips with a question one frame cannot answer (video_train.jsonl)')
    ap.add_argument('--video-test', type=int, default=0, help='held-out clips (video_test.jsonl)')
    ap.add_argument('--seed', type=int, default=0)
    args = ap.parse_args(argv)
    files = make_dataset(args.out, args.train, args.test, args.size, args.text_only, args.seed, args.grounding,
                         args.grounding_test, args.questions_per_image, args.empty, args.grounding_even_counts)
    if args.video or args.video_test:
        files.update(make_video_dataset(args.out, args.video, args.video_test, args.size, args.seed))
    for split, file in files.items():
        print(f'{split}: {file} ({sum(1 for _ in file.open())} rows)')


if __name__ == '__main__':
    main()
