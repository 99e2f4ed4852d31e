"""Grounding accuracy of a served model (recipes/deploy.sh, or any OpenAI-compatible endpoint): Acc@IoU0.5.

  python eval/grounding.py --api-url http://127.0.0.1:8000/v1 --model qwen3-smvl \
      --datasets runs/demo/data/grounding_test.jsonl [swift/refcoco:grounding ...] [--limit N] [--work-dir DIR]

Each dataset is read by swift's own loader (a local jsonl, or a swift-registered id such as swift/refcoco:grounding
on a machine with a hub), in swift's grounding format: a question with `<ref-object>`, `objects: {ref, bbox}` with
boxes in pixels (or `bbox_type: norm1`). The question goes out with its refs in Qwen's tokens and the image as a
data URL; the answer's boxes (Qwen's format, thousandths) are compared in pixels with the truth. A row counts when
its answer has as many boxes as the truth, paired one to one at IoU >= 0.5. Prints a table per dataset, saved as
summary.md beside results.jsonl (one line per row: question, answer, boxes, hit). Exits 1 when nothing was scored.

EvalScope's own `refcoco` (bbox_rec) asks in English for `[a, b, c, d]` in 0-1 and reads only that, not Qwen's box
tokens: that is why this scorer is separate.
"""
import argparse
import base64
import io
import json
import sys
from pathlib import Path

from PIL import Image

from qwen3_smvl.client import chat, post
from qwen3_smvl.grounding import boxes_match, pixel_boxes, render
from qwen3_smvl.images import open_image


def image_of(entry) -> Image.Image:
    """swift's loader gives {'bytes', 'path'} (or a path); upright 8-bit RGB, as training saw it (boxes are upright)."""
    return open_image(entry)


def truth_boxes(objects: dict, width: int, height: int) -> list:
    scale = (width, height, width, height) if objects.get('bbox_type') == 'norm1' else (1, 1, 1, 1)
    return [[v * s for v, s in zip(box, scale)] for box in objects['bbox']]


def ask(args, question: str, image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, format='PNG')
    url = 'data:image/png;base64,' + base64.b64encode(buf.getvalue()).decode()
    status, text = post(args.api_url, chat([url], question, model=args.model, max_tokens=args.max_tokens),
                        api_key=args.api_key)
    if status != 200:
        raise RuntimeError(f'{args.api_url} answered {status}: {text[:300]}')
    return json.loads(text)['choices'][0]['message']['content']


def score(args, name: str, rows, out) -> dict:
    from tqdm import tqdm
    hits = total = 0
    for row in tqdm(rows, desc=name):
        question_turn = next(m for m in row['messages'] if m['role'] == 'user')
        question = render(question_turn['content'].replace('<image>', ''), row['objects'])
        image = image_of(row['images'][0])
        answer = ask(args, question, image)
        predicted = pixel_boxes(answer, *image.size)
        truth = truth_boxes(row['objects'], *image.size)
        hit = boxes_match(predicted, truth)
        hits, total = hits + hit, total + 1
        out.write(json.dumps({'dataset': name, 'question': question, 'answer': answer, 'predicted': predicted,
                              'truth': truth, 'hit': hit}, ensure_ascii=False) + '\n')
    return {'dataset': name, 'rows': total, 'hits': hits, 'acc': hits / total if total else 0.}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--api-url', required=True, help='OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1')
    ap.add_argument('--model', default='qwen3-smvl', help='the served model name')
    ap.add_argument('--api-key', default=None)
    ap.add_argument('--datasets', nargs='+', required=True, help='local jsonl files or swift dataset ids')
    ap.add_argument('--limit', type=int, default=None, help='rows per dataset')
    ap.add_argument('--max-tokens', type=int, default=128)
    ap.add_argument('--work-dir', type=Path, default=Path('runs/eval_grounding'))
    args = ap.parse_args(argv)
    from swift.dataset import load_dataset
    args.work_dir.mkdir(parents=True, exist_ok=True)
    results = []
    with open(args.work_dir / 'results.jsonl', 'w') as out:
        for name in args.datasets:
            rows, _ = load_dataset([name], shuffle=False)
            rows = [r for r in rows if r.get('objects') and r['objects'].get('bbox')]
            results.append(score(args, name, rows[:args.limit], out))
    table = ['| dataset | rows | Acc@IoU0.5 |', '|---|---:|---:|']
    table += [f'| {r["dataset"]} | {r["rows"]} | {r["acc"]:.1%} |' for r in results]
    rows, hits = sum(r['rows'] for r in results), sum(r['hits'] for r in results)
    table.append(f'| overall | {rows} | {hits / rows if rows else 0:.1%} |')
    (args.work_dir / 'summary.md').write_text('\n'.join(table) + '\n')
    print('\n'.join(table))
    if rows == 0:
        print(f'error: no grounding row was scored in {", ".join(args.datasets)}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
