"""Look at a dataset before training on it: a contact sheet of its first rows and their token counts.

  python tools/preview_dataset.py DATASET [--n 8] [--model runs/demo/spliced] [--out runs/preview.png]

DATASET is anything the recipes take (a swift jsonl, a swift or registered dataset id such as
AI-ModelScope/the_cauldron:cocoqa, a local subset folder). Tokens are counted by the model's template as training
encodes them (--model: any spliced or trained checkpoint; the image settings come from SMVL_* as in the recipes).
"""
import argparse
import sys
from pathlib import Path

from qwen3_smvl.datasets.preview import contact_sheet, token_stats
from qwen3_smvl.inputs import InputError, check

REPO = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('dataset')
    ap.add_argument('--n', type=int, default=8, help='rows to show')
    ap.add_argument('--model', type=Path, default=REPO / 'runs' / 'demo' / 'spliced')
    ap.add_argument('--out', type=Path, default=REPO / 'runs' / 'preview.png')
    args = ap.parse_args(argv)
    try:
        check(args.dataset, 'DATASET', {})
        check(str(args.model), 'MODEL', {})
    except InputError as e:
        print(f'error: {e}' + ('' if args.model.exists() else ' (make demo builds runs/demo/spliced; or --model)'),
              file=sys.stderr)
        return 2
    from swift.dataset import load_dataset
    from swift.model import get_model_processor
    from swift.template import get_template

    from qwen3_smvl.swift_plugin import load_plugin
    plugin = load_plugin()  # registers the model type, its template and the datasets
    dataset = load_dataset([args.dataset])[0]
    rows = list(dataset.select(range(min(args.n, len(dataset)))))
    processor = get_model_processor(str(args.model), model_type=plugin.MODEL_TYPE, load_model=False)[1]
    template = get_template(processor, template_type=plugin.TEMPLATE_TYPE)
    template.set_mode('train')
    stats = [token_stats(template, row) for row in rows]
    print(f'{"row":>4}{"tokens":>8}{"image":>8}{"share":>7}  first question')
    for i, (row, s) in enumerate(zip(rows, stats)):
        question = next((m['content'] for m in row['messages'] if m['role'] == 'user'), '')[:40].replace('\n', ' ')
        if s['tokens']:
            print(f'{i:>4}{s["tokens"]:>8}{s["image_tokens"]:>8}{s["image_tokens"] / s["tokens"]:>7.0%}  {question}')
        else:
            print(f'{i:>4}{"-":>8}{"-":>8}{"-":>7}  {question}  (dropped in training: {s["error"]})')
    kept = [s for s in stats if s['tokens']]
    if kept:
        total, image = sum(s['tokens'] for s in kept), sum(s['image_tokens'] for s in kept)
        print(f'{len(kept)} of {len(rows)} rows trainable: {total} tokens, {image / total:.0%} of them image tokens')
    sheet = contact_sheet(rows, stats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f'contact sheet: {args.out} ({sheet.width}x{sheet.height}, {len(rows)} rows)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
