"""The main job end to end on the embedded default, on the CPU: a spliced model learns to see and answer in Chinese.

  1 generate tiny donors and splice them (tools/make_donors.py, tools/build_model.py)
  2 generate the synthetic Chinese visual QA set, with held-out images (tools/make_dataset.py)
  3 recipes/stage1.sh (connector only), then recipes/stage2.sh
  4 exact match on the held-out split: trained model with real images, with blank images, and the untrained splice
  5 serve the result with recipes/deploy.sh on 127.0.0.1 and ask one question through the OpenAI API
  6 summary

Fails (exit 1) unless real images beat blank images by --margin points of accuracy.
"""
import argparse
import base64
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STEPS = 6
for var in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE', 'HF_DATASETS_OFFLINE'):
    os.environ.setdefault(var, '1')  # the demo needs no hub


def step(n: int, text: str) -> None:
    print(f'\n[{n}/{STEPS}] {text}', flush=True)


def run(cmd, **env) -> None:
    print('  $ ' + ' '.join(f'{k}={v}' for k, v in env.items()) + (' ' if env else '') + ' '.join(map(str, cmd)),
          flush=True)
    subprocess.run(list(map(str, cmd)), cwd=REPO, check=True, env={**os.environ, **{k: str(v) for k, v in env.items()}})


def ask_served_model(model_dir: Path, image: str, question: str) -> str:
    """Serve with recipes/deploy.sh, ask one question with the image as a base64 data URL, stop the server."""
    from qwen3_smvl.serve import served
    with served(model_dir, model_dir.parent / 'deploy.log', MAX_NEW_TOKENS=16) as base:
        data_url = 'data:image/png;base64,' + base64.b64encode(Path(image).read_bytes()).decode()
        body = {'model': 'qwen3-smvl', 'temperature': 0, 'max_tokens': 16, 'messages': [{'role': 'user', 'content': [
            {'type': 'image_url', 'image_url': {'url': data_url}}, {'type': 'text', 'text': question}]}]}
        req = urllib.request.Request(base + '/chat/completions', json.dumps(body).encode(),
                                     {'Content-Type': 'application/json'})
        reply = json.loads(urllib.request.urlopen(req, timeout=300).read())
    return reply['choices'][0]['message']['content']


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', type=Path, default=REPO / 'runs' / 'demo')
    ap.add_argument('--train', type=int, default=400, help='training images')
    ap.add_argument('--test', type=int, default=100, help='held-out images')
    ap.add_argument('--stage1-epochs', type=int, default=4)
    ap.add_argument('--stage2-epochs', type=int, default=16)
    # Blank images leave only the answer priors a question implies (1/4 colours, 1/3 shapes and counts, 1/2 sides:
    # about 35%). On 100 held-out samples a difference of two such accuracies has a standard error near 7 points,
    # so 20 points is about 3 of them: not luck, and well under the 40-odd points the demo reaches.
    ap.add_argument('--margin', type=float, default=0.2,
                    help='least accuracy gain of real over blank images (0.2 = 20 points)')
    ap.add_argument('--text-only', type=int, default=12, help='text-only training samples mixed in')
    ap.add_argument('--no-serve', action='store_true', help='skip step 5')
    args = ap.parse_args(argv)
    out = args.out.resolve()
    t0 = time.time()
    recipe_env = {'WORKERS': 0, 'DATASET_NUM_PROC': 1, 'TORCH_DTYPE': 'float32', 'BATCH_SIZE': 8, 'RESUME': 'none',
                  'SAVE_STEPS': 100000, 'LOGGING_STEPS': 10}

    step(1, 'tiny donors and the splice')
    run([sys.executable, 'tools/make_donors.py', '--preset', 'tiny', '--out', out / 'donors'])
    run([sys.executable, 'tools/build_model.py', '--vision', out / 'donors' / 'vision', '--llm', out / 'donors' / 'llm',
         '--out', out / 'spliced', '--overwrite'])

    step(2, f'synthetic Chinese visual QA: {args.train} training images, {args.test} held-out')
    run([sys.executable, 'tools/make_dataset.py', '--out', out / 'data', '--train', args.train, '--test', args.test,
         '--text-only', args.text_only])
    train, test = out / 'data' / 'train.jsonl', out / 'data' / 'test.jsonl'

    step(3, 'stage 1 (connector only), then stage 2 (full)')
    for d in ('stage1', 'stage2'):
        subprocess.run(['rm', '-rf', str(out / d)], check=True)
    run(['bash', 'recipes/stage1.sh'], MODEL=out / 'spliced', DATASET=train, OUTPUT_DIR=out / 'stage1',
        NUM_EPOCHS=args.stage1_epochs, **recipe_env)
    # 1e-3, not the recipe's 1e-5: the tiny donor LLM is random and learns Chinese answers from scratch.
    run(['bash', 'recipes/stage2.sh'], MODEL=out / 'stage1' / 'last-checkpoint', TUNER='full', LR='1e-3',
        DATASET=train, OUTPUT_DIR=out / 'stage2', NUM_EPOCHS=args.stage2_epochs, **recipe_env)
    trained = (out / 'stage2' / 'last-checkpoint').resolve()

    step(4, 'exact match on the held-out images')
    from qwen3_smvl.evaluate import answer_text, exact_match
    results = {
        'trained, real images': exact_match(trained, test),
        'trained, blank images': exact_match(trained, test, blank=True),
        'untrained splice, real images': exact_match(out / 'spliced', test),
    }
    (out / 'accuracy.json').write_text(json.dumps(results, indent=2, ensure_ascii=False))

    step(5, 'serve the trained model (recipes/deploy.sh) and ask about one held-out image')
    if args.no_serve:
        print('  skipped (--no-serve)')
    else:
        row = json.loads(test.read_text().splitlines()[0])
        question = row['messages'][0]['content'].replace('<image>', '')
        answer = ask_served_model(trained, row['images'][0], question)
        print(f'  image:    {row["images"][0]}\n  question: {question}\n  answer:   {answer_text(answer)}  '
              f'(expected {row["messages"][1]["content"]}; raw reply {answer!r})')

    step(6, 'summary')
    print(f'  {"model / images":<32}{"accuracy":>10}')
    for name, r in results.items():
        print(f'  {name:<32}{r["accuracy"]:>10.1%}  ({r["correct"]}/{r["total"]})')
    for d in ('stage1', 'stage2'):
        print(f'  loss plot: {out / d / "images" / "train_loss.png"}')
    print(f'  checkpoints: {out / "spliced"} (untrained), {trained} (trained)')
    gain = results['trained, real images']['accuracy'] - results['trained, blank images']['accuracy']
    print(f'  real - blank: {gain:+.1%} (required: at least {args.margin:+.0%}); {time.time() - t0:.0f}s in all')
    if gain < args.margin:
        print('FAIL: the images do not make enough of a difference', file=sys.stderr)
        return 1
    print('OK: the model reads the answers off the images')
    return 0


if __name__ == '__main__':
    sys.exit(main())
