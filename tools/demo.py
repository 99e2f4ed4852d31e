"""The main job end to end on the embedded default, on the CPU: a spliced model learns to see and answer in Chinese.

  1 generate tiny donors (Qwen3's genuine tokenizer: the model exports to GGUF too), teach the vision donor's tower
    colours and shapes, and splice them (tools/make_donors.py, tools/build_model.py)
  2 generate the synthetic Chinese visual QA and grounding sets, with held-out images (tools/make_dataset.py)
  3 recipes/stage1.sh (connector only), then recipes/stage2.sh (the LLM, connector and vision tower), on both tasks
  4 on the held-out images: exact match of answers and Acc@IoU0.5 of boxes, for the trained model with real images,
    with blank images, and the untrained splice; one held-out picture saved with its predicted and true boxes
  5 serve the result with recipes/deploy.sh on 127.0.0.1 and ask one question through the OpenAI API
  6 summary

Fails (exit 1) unless real images beat blank images by --margin points of answer accuracy and --box-margin points
of box accuracy.
"""
import argparse
import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
STEPS = 6
for var in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE', 'HF_DATASETS_OFFLINE'):
    os.environ.setdefault(var, '1')  # the demo needs no hub


def trained_name(images: str) -> str:
    """The trained model's result name in accuracy.json and grounding.json ('real' or 'blank' images)."""
    return f'trained, {images} images'


def step(n: int, text: str, total: int = STEPS) -> None:
    print(f'\n[{n}/{total}] {text}', flush=True)


def run(cmd, **env) -> None:
    print('  $ ' + ' '.join(f'{k}={v}' for k, v in env.items()) + (' ' if env else '') + ' '.join(map(str, cmd)),
          flush=True)
    subprocess.run(list(map(str, cmd)), cwd=REPO, check=True, env={**os.environ, **{k: str(v) for k, v in env.items()}})


def ask_served_model(model_dir: Path, questions: list) -> list:
    """Serve with recipes/deploy.sh, ask each (image, question) with the image as a base64 data URL, stop the
    server; the raw replies."""
    from qwen3_smvl.client import chat, post
    from qwen3_smvl.serve.deploy import served
    replies = []
    with served(model_dir, model_dir.parent / 'deploy.log', MAX_NEW_TOKENS=96) as base:
        for image, question in questions:
            data_url = 'data:image/png;base64,' + base64.b64encode(Path(image).read_bytes()).decode()
            status, text = post(base, chat([data_url], question, max_tokens=96))
            if status != 200:
                raise RuntimeError(f'the served model answered {status}: {text[:300]}')
            replies.append(json.loads(text)['choices'][0]['message']['content'])
    return replies


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', type=Path, default=REPO / 'runs' / 'demo')
    # tiny-vocab: toy layers with Qwen3's genuine tokenizer, which llama.cpp's converter and mtmd need (docs/gguf.md)
    ap.add_argument('--preset', default='tiny-vocab', choices=['tiny-vocab', 'tiny'], help='donor preset')
    # Each picture asked all 4 questions, by a tower that sees: colours are learnt (asked one question a picture, by
    # a random tower, they stayed at chance; docs/demo.md).
    ap.add_argument('--train', type=int, default=400, help='training images for questions')
    ap.add_argument('--questions-per-image', type=int, default=4, help='conversation turns a training picture (1-4)')
    ap.add_argument('--qa-repeats', type=int, default=10, help='passes over the question rows in stage 2')
    ap.add_argument('--pretrain-vision', type=int, default=600, metavar='STEPS',
                    help="pre-train the random vision donor's tower on the synthetic pictures first (0: not)")
    ap.add_argument('--empty', type=int, default=40,
                    help='training conversations about an empty picture, answered "图中没有..." (none there)')
    ap.add_argument('--test', type=int, default=100, help='held-out images')
    ap.add_argument('--stage1-steps', type=int, default=300)
    ap.add_argument('--stage2-epochs', type=int, default=1, help='passes over the mix (questions repeated, boxes)')
    ap.add_argument('--vit-layers', type=int, default=2, help="stage 2 also trains the vision tower's last N layers")
    # Blank images leave only the answer priors a question implies (1/4 colours, 1/3 shapes and counts, 1/2 sides:
    # about 35%). On 100 held-out samples a difference of two such accuracies has a standard error near 7 points,
    # so 20 points is about 3 of them: not luck, and well under the 40-odd points the demo reaches.
    ap.add_argument('--margin', type=float, default=0.2,
                    help='least accuracy gain of real over blank images (0.2 = 20 points)')
    ap.add_argument('--text-only', type=int, default=12, help='text-only training samples mixed in')
    # Each box picture seen once: repeated, 200 of them were learnt by heart (boxes of held-out pictures 12-44%).
    ap.add_argument('--grounding', type=int, default=2000, help='training images with a box question')
    ap.add_argument('--grounding-test', type=int, default=50, help='held-out images with a box question')
    ap.add_argument('--box-margin', type=float, default=0.2,
                    help='least box accuracy (Acc@IoU0.5) gain of real over blank images')
    ap.add_argument('--seed', type=int, default=0,
                    help="the synthetic sets' seed; training's is 42 + this (the recipes' default at 0)")
    ap.add_argument('--no-serve', action='store_true', help='skip step 5')
    args = ap.parse_args(argv)
    out = args.out.resolve()
    t0 = time.time()
    recipe_env = {'WORKERS': 0, 'DATASET_NUM_PROC': 1, 'TORCH_DTYPE': 'float32', 'BATCH_SIZE': 8, 'RESUME': 'none',
                  'SAVE_STEPS': 100000, 'LOGGING_STEPS': 10, 'SEED': 42 + args.seed}

    step(1, 'tiny donors and the splice')
    run([sys.executable, 'tools/make_donors.py', '--preset', args.preset, '--out', out / 'donors',
         '--pretrain-vision', args.pretrain_vision])
    run([sys.executable, 'tools/build_model.py', '--vision', out / 'donors' / 'vision', '--llm', out / 'donors' / 'llm',
         '--out', out / 'spliced', '--overwrite'])

    step(2, f'synthetic Chinese visual QA ({args.train} training images, asked {args.questions_per_image} of their '
            f'4 questions, and {args.empty} about an empty picture; {args.test} held-out) and grounding '
            f'({args.grounding}, {args.grounding_test} held-out)')
    run([sys.executable, 'tools/make_dataset.py', '--out', out / 'data', '--train', args.train, '--test', args.test,
         '--text-only', args.text_only, '--grounding', args.grounding, '--grounding-test', args.grounding_test,
         '--seed', args.seed, '--questions-per-image', args.questions_per_image, '--empty', args.empty])
    train, test = out / 'data' / 'train.jsonl', out / 'data' / 'test.jsonl'
    boxes_train, boxes_test = out / 'data' / 'grounding_train.jsonl', out / 'data' / 'grounding_test.jsonl'
    datasets = f'{train} {boxes_train}'  # swift mixes space-separated datasets
    # stage 2: the question rows QA_REPEATS times (swift's DATASET#N takes N rows, whole copies first), boxes once
    repeated = f'{train}#{sum(1 for _ in train.open()) * args.qa_repeats} {boxes_train}'

    step(3, 'stage 1 (connector only), then stage 2 (full)')
    for d in ('stage1', 'stage2'):
        subprocess.run(['rm', '-rf', str(out / d)], check=True)
    run(['bash', 'recipes/stage1.sh'], MODEL=out / 'spliced', DATASET=datasets, OUTPUT_DIR=out / 'stage1',
        MAX_STEPS=args.stage1_steps, **recipe_env)
    # 1e-3, not the recipe's 1e-5: the tiny donor LLM is random and learns Chinese answers from scratch. The tiny
    # tower's two layers train too (a random tower frozen hid where shapes are: boxes 28% -> 46-62% trained).
    run(['bash', 'recipes/stage2.sh'], MODEL=out / 'stage1' / 'last-checkpoint', TUNER='full', LR='1e-3',
        VIT_LAST_N=args.vit_layers, DATASET=repeated, OUTPUT_DIR=out / 'stage2', NUM_EPOCHS=args.stage2_epochs,
        **recipe_env)
    trained = (out / 'stage2' / 'last-checkpoint').resolve()

    step(4, 'answers (exact match) and boxes (Acc@IoU0.5) on the held-out images')
    from qwen3_smvl.answers import answer_text
    from qwen3_smvl.datasets.synthetic import is_absent_answer
    from qwen3_smvl.evaluate.accuracy import exact_match, grounding_accuracy
    runs = {trained_name('real'): (trained, False), trained_name('blank'): (trained, True),
            'untrained splice, real images': (out / 'spliced', False)}
    results = {name: exact_match(model, test, blank=blank) for name, (model, blank) in runs.items()}
    boxes = {name: grounding_accuracy(model, boxes_test, blank=blank) for name, (model, blank) in runs.items()}
    (out / 'accuracy.json').write_text(json.dumps(results, indent=2, ensure_ascii=False))
    (out / 'grounding.json').write_text(json.dumps(boxes, indent=2, ensure_ascii=False))
    picture = save_boxes_picture(boxes[trained_name('real')]['examples'][0], out / 'grounding_example.png')

    step(5, 'serve the trained model (recipes/deploy.sh) and ask about two held-out images')
    if args.no_serve:
        print('  skipped (--no-serve)')
    else:
        from qwen3_smvl.grounding import pixel_boxes, render
        from qwen3_smvl.images import open_image
        qa, box = json.loads(test.read_text().splitlines()[0]), json.loads(boxes_test.read_text().splitlines()[0])
        questions = [(row['images'][0], render(row['messages'][0]['content'].replace('<image>', ''),
                                               row.get('objects') or {})) for row in (qa, box)]
        answers = ask_served_model(trained, questions)
        print(f'  image:    {qa["images"][0]}\n  question: {questions[0][1]}\n  answer:   {answer_text(answers[0])}  '
              f'(expected {qa["messages"][1]["content"]}; raw reply {answers[0]!r})')
        predicted = [[round(v) for v in b] for b in pixel_boxes(answers[1], *open_image(box['images'][0]).size)]
        print(f'  image:    {box["images"][0]}\n  question: {questions[1][1]}\n  answer:   {answer_text(answers[1])}\n'
              f'  boxes:    {predicted} in pixels (true: {box["objects"]["bbox"]})')

    step(6, 'summary')
    print(f'  {"model / images":<32}{"answers":>10}{"":9}{"boxes":>10}')
    for name, r in results.items():
        b = boxes[name]
        print(f'  {name:<32}{r["accuracy"]:>10.1%} ({r["correct"]:>3}/{r["total"]}){b["accuracy"]:>10.1%} '
              f'({b["correct"]:>3}/{b["total"]})')
    blank = results[trained_name('blank')]
    print(f'  blank images answered "图中没有..." (there is none): '
          f'{sum(map(is_absent_answer, blank["responses"]))}/{blank["total"]}')
    print(f'  boxes drawn (red: predicted, green: true): {picture}')
    for d in ('stage1', 'stage2'):
        print(f'  loss plot: {out / d / "images" / "train_loss.png"}')
    print(f'  checkpoints: {out / "spliced"} (untrained), {trained} (trained)')
    gain = results[trained_name('real')]['accuracy'] - results[trained_name('blank')]['accuracy']
    box_gain = boxes[trained_name('real')]['accuracy'] - boxes[trained_name('blank')]['accuracy']
    print(f'  real - blank: answers {gain:+.1%} (required: at least {args.margin:+.0%}), boxes {box_gain:+.1%} '
          f'(required: at least {args.box_margin:+.0%}); {time.time() - t0:.0f}s in all')
    if gain < args.margin or box_gain < args.box_margin:
        print('FAIL: the images do not make enough of a difference', file=sys.stderr)
        return 1
    print('OK: the model reads the answers and the boxes off the images')
    return 0


def save_boxes_picture(example: dict, path: Path) -> Path:
    """A held-out picture with the trained model's boxes (red) and the true ones (green), four times its size."""
    from qwen3_smvl.draw import draw_boxes
    from qwen3_smvl.grounding import parse
    from qwen3_smvl.images import open_image
    image = open_image(example['image'])
    image = image.resize((image.width * 4, image.height * 4), Image.NEAREST)
    drawn = [(tuple(4 * v for v in box), None, 'green') for box in example['truth']]
    drawn += [(b.to_pixels(*image.size), b.ref, 'red') for b in parse(example['response']).boxes]  # on top
    draw_boxes(image, drawn).save(path)
    return path


if __name__ == '__main__':
    sys.exit(main())
