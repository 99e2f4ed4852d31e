"""Stage-1 training throughput at the real dimensions (SigLIP-base + Qwen3-0.6B, random weights), CPU or GPU.

The same samples (mixed text lengths, real-size images) through several runs, one process each, one epoch:
  seed        the seed article's recipe: HF Trainer, every sample padded to 2048 tokens, loss on the whole text,
              SmolVLM2's image settings (every image resized to 2048: 13-17 tiles), gradient checkpointing off
  ours-same   recipes/stage1.sh (swift sft + plugin) with SmolVLM2's image settings (SMVL_UPSCALE=true)
  ours        recipes/stage1.sh with SMVL_UPSCALE=false (tiles follow the image's resolution; the default until issue 30)
each as a variant: `ckpt` gradient checkpointing on (off without), and `padded` (swift's padding to the longest row,
the recipe's old default), `padfree` (PADDING_FREE=true, the default) or `packed` (PACKING=true); `swift` marks the
recipe's old defaults (checkpointing on, padded, token accuracy every step). `--grid full` runs every combination.
On a GPU every run is bf16 (the seed article's and the recipe's default there); on the CPU float32.
Prints samples/s, real (non-pad) tokens/s, peak RSS and peak GPU memory (reserved, as swift logs it) per run, and
each run's ratio to the seed. Then the image-token budget per image size for each image setting the recipes expose.

  python bench/train_throughput.py [--samples 3] [--batch-size 1] [--grid default|full] [--donors DIR] [--work DIR]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
IMAGE_SIZES = [(300, 200), (640, 480), (1024, 768), (1600, 1200)]
QA = [('图中的圆形是什么颜色？', '红色。'),
      ('请详细描述这张图片。', '这是一张白色背景的图片，图中有一个红色的圆形和一个蓝色的正方形，圆形在左边，正方形在右边，'
                      '两个图形大小差不多，没有其他物体。'),
      ('图中有几个图形？', '两个。'),
      ('图中的正方形在哪一边？', '右边。')]

SEED = r'''
import json, sys, time, torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor, Trainer, TrainingArguments
model_dir, data, out, batch, checkpointing = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == 'ckpt'
cuda = torch.cuda.is_available()
processor = AutoProcessor.from_pretrained(model_dir)
model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.bfloat16 if cuda else torch.float32)
for name, p in model.named_parameters():
    p.requires_grad = name.startswith('model.connector.')
rows = [json.loads(line) for line in open(data)]
pad, image_id = processor.tokenizer.pad_token_id, model.config.image_token_id
samples, real_tokens = [], 0
for row in rows:
    messages = [{'role': 'user', 'content': [{'type': 'image'}, {'type': 'text', 'text': row['messages'][0]['content'].replace('<image>', '')}]},
                {'role': 'assistant', 'content': row['messages'][1]['content']}]
    text = processor.apply_chat_template(messages)
    enc = processor(text=[text], images=[[Image.open(row['images'][0]).convert('RGB')]], return_tensors='pt',
                    padding='max_length', max_length=2048, truncation=False)
    labels = enc['input_ids'].clone()
    labels[(labels == pad) | (labels == image_id)] = -100  # loss on the whole text
    real_tokens += int(enc['attention_mask'].sum())
    samples.append({k: v[0] for k, v in enc.items()} | {'labels': labels[0]})
args = TrainingArguments(out, per_device_train_batch_size=batch, max_steps=len(samples) // batch, learning_rate=1e-4,
                         report_to=[], save_strategy='no', logging_steps=1, use_cpu=not cuda, bf16=cuda,
                         gradient_checkpointing=checkpointing)
trainer = Trainer(model=model, args=args, train_dataset=samples)
runtime = trainer.train().metrics['train_runtime']
peak_gpu = torch.cuda.max_memory_reserved() / 2**30 if cuda else 0.0
print(json.dumps({'train_runtime': runtime, 'samples': len(samples), 'real_tokens': real_tokens, 'peak_gpu': peak_gpu}))
'''


def make_samples(out: Path, n: int) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        w, h = IMAGE_SIZES[i % len(IMAGE_SIZES)]
        img = Image.new('RGB', (w, h), (255, 255, 255))
        d = ImageDraw.Draw(img)
        d.ellipse((w // 10, h // 4, w // 10 + h // 2, 3 * h // 4), fill=(220, 30, 30))
        d.rectangle((w // 2, h // 4, w // 2 + h // 2, 3 * h // 4), fill=(30, 70, 220))
        path = out / f'{i}.png'
        img.save(path)
        q, a = QA[i % len(QA)]
        rows.append({'id': i, 'messages': [{'role': 'user', 'content': f'<image>{q}'},
                                           {'role': 'assistant', 'content': a}], 'images': [str(path)]})
    data = out / 'samples.jsonl'
    data.write_text(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in rows))
    return data


def run_child(cmd, env=None) -> tuple:
    t0 = time.time()
    proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f'{" ".join(map(str, cmd[:3]))} failed:\n{output[-4000:]}')
    return output, usage.ru_maxrss * 1024, time.time() - t0


def swift_tokens(model_dir: Path, data: Path, env: dict) -> int:
    """Tokens per sample as the plugin's template encodes them under the given image settings (no padding)."""
    code = f'''
import json, os
os.environ.update({env!r})
from qwen3_smvl.swift_plugin import load_plugin
load_plugin()
from swift.model import get_model_processor
from swift.template import get_template
_, processor = get_model_processor({str(model_dir)!r}, model_type='qwen3_smvl', load_model=False)
template = get_template(processor, template_type='qwen3_smvl')
template.set_mode('train')
print(json.dumps([len(template.encode(json.loads(line))['input_ids']) for line in open({str(data)!r})]))
'''
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True, check=True)
    return sum(json.loads(out.stdout.strip().splitlines()[-1]))


def token_budget(model_dir: Path) -> None:
    from transformers import AutoProcessor

    from qwen3_smvl.images import fit_within
    processor = AutoProcessor.from_pretrained(model_dir)
    seq = processor.image_seq_len
    settings = {
        "default, SmolVLM2's (resize to 2048)": ({}, None),
        'SMVL_UPSCALE=false': ({'do_resize': False}, 2048),
        'SMVL_UPSCALE=false SMVL_LONGEST_EDGE=1024': ({'do_resize': False}, 1024),
        'SMVL_LONGEST_EDGE=1024 (with upscale)': ({'size': {'longest_edge': 1024}}, None),
        'SMVL_IMAGE_SPLITTING=false': ({'do_image_splitting': False}, None),
    }
    sizes = IMAGE_SIZES + [(512, 512), (2560, 1440)]
    print(f'\nimage tokens per image ({seq} per tile)')
    print(f'{"setting":<44}' + ''.join(f'{w}x{h}'.rjust(11) for w, h in sizes))
    for name, (kwargs, cap) in settings.items():
        cells = []
        for w, h in sizes:
            img = Image.new('RGB', (w, h), (128, 128, 128))
            if cap:
                img = fit_within(img, cap)
            tiles = processor.image_processor([[img]], **kwargs)['pixel_values'].shape[1]
            cells.append(str(tiles * seq).rjust(11))
        print(f'{name:<44}' + ''.join(cells))


# Recipe variants: environment on top of recipes/stage1.sh's defaults.
SWIFT_WAY = {'GRADIENT_CHECKPOINTING': 'true', 'PADDING_FREE': 'false', 'TOKEN_ACC': 'every_step'}
PACKED = {'PACKING': 'true', 'LAZY_TOKENIZE': 'false'}  # swift packs rows once, before training
MODES = {'padded': {'PADDING_FREE': 'false'}, 'padfree': {'PADDING_FREE': 'true'}, 'packed': PACKED}
VARIANTS = {'swift': SWIFT_WAY, 'default': {}, 'packed': PACKED,
            **{f'{c}-{m}': {'GRADIENT_CHECKPOINTING': str(c == 'ckpt').lower(), **env}
               for c in ('ckpt', 'nockpt') for m, env in MODES.items()}}
IMAGE_SETTINGS = {'ours-same': 'true', 'ours': 'false'}  # SMVL_UPSCALE


def grid(which: str) -> dict:
    if which == 'full':
        return {'seed': ['nockpt', 'ckpt'], **{name: [f'{c}-{m}' for c in ('ckpt', 'nockpt') for m in MODES]
                                                for name in IMAGE_SETTINGS}}
    return {'seed': ['nockpt'], 'ours-same': ['swift', 'default'], 'ours': ['swift', 'default', 'packed']}


def seed_run(model: Path, data: Path, out: Path, args, variant: str, name: str) -> tuple:
    output, rss, _ = run_child([sys.executable, '-c', SEED, str(model), str(data), str(out), str(args.batch_size),
                                variant])
    seed = json.loads([line for line in output.splitlines() if line.startswith('{"train_runtime"')][-1])
    return (seed['samples'] / seed['train_runtime'], seed['real_tokens'] / seed['train_runtime'], rss,
            seed['peak_gpu'])


def recipe_run(model: Path, data: Path, out: Path, args, variant: str, name: str) -> tuple:
    """recipes/stage1.sh for one epoch of the samples; samples/s from swift's train_runtime."""
    images = {'SMVL_UPSCALE': IMAGE_SETTINGS[name]}
    subprocess.run(['rm', '-rf', str(out)], check=True)
    output, rss, _ = run_child(['bash', 'recipes/stage1.sh'], env={
        **images, 'MODEL': str(model), 'DATASET': str(data), 'OUTPUT_DIR': str(out), 'MAX_STEPS': '-1',
        'NUM_EPOCHS': '1', 'BATCH_SIZE': str(args.batch_size), 'WORKERS': str(args.workers),
        'DATASET_NUM_PROC': str(max(1, args.workers)), 'RESUME': 'none', 'LAZY_TOKENIZE': args.lazy_tokenize,
        'LOGGING_STEPS': '1', 'SAVE_STEPS': '100000', 'REPORT_TO': 'none', 'WARMUP_RATIO': '0', 'SAMPLE_STEPS': '0',
        'PATH': f'{Path(sys.executable).parent}:{os.environ["PATH"]}', **VARIANTS[variant]})
    print('  ' + output.splitlines()[0], flush=True)  # what the recipe decided (dtype, attention, checkpointing)
    log = [json.loads(line) for line in (out / 'logging.jsonl').read_text().splitlines()]
    runtime = float(next(h['train_runtime'] for h in log if 'train_runtime' in h))
    peak_gpu = max((h.get('memory(GiB)', 0.0) for h in log), default=0.0)
    return args.samples / runtime, swift_tokens(model, data, images) / runtime, rss, peak_gpu


def environment() -> str:
    import torch
    import transformers
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU'
    return f'{device}, torch {torch.__version__}, transformers {transformers.__version__}'


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--samples', type=int, default=3)
    ap.add_argument('--batch-size', type=int, default=1, help='per step, every run (samples: a multiple of it)')
    ap.add_argument('--workers', type=int, default=0, help="the recipe's dataloader workers (the seed pre-encodes)")
    ap.add_argument('--lazy-tokenize', default='true', choices=['true', 'false'],
                    help="the recipe's LAZY_TOKENIZE; false encodes every row before training, as the seed does")
    ap.add_argument('--grid', default='default', choices=['default', 'full'],
                    help='default: seed, the recipe before (swift) and as it is (default, packed); full: every variant')
    ap.add_argument('--donors', type=Path, help='real-preset donors (made if absent)')
    ap.add_argument('--work', type=Path)
    args = ap.parse_args()
    if args.samples % args.batch_size:
        ap.error(f'--samples {args.samples} is not a multiple of --batch-size {args.batch_size}')
    print(environment(), flush=True)
    work = args.work or Path(tempfile.mkdtemp(prefix='bench_train_'))
    donors = args.donors or work / 'donors'
    model = work / 'spliced'
    if not (donors / 'llm' / 'config.json').exists():
        print('making real-dimension donors ...', flush=True)
        subprocess.run([sys.executable, 'tools/make_donors.py', '--preset', 'real', '--out', str(donors)], cwd=REPO,
                       check=True, capture_output=True)
    if not (model / 'qwen3_smvl_manifest.json').exists():
        print('splicing ...', flush=True)
        subprocess.run([sys.executable, 'tools/build_model.py', '--vision', str(donors / 'vision'), '--llm',
                        str(donors / 'llm'), '--out', str(model), '--overwrite'], cwd=REPO, check=True,
                       capture_output=True)
    data = make_samples(work / 'data', args.samples)
    results = {}
    for name, variants in grid(args.grid).items():
        for variant in variants:
            label = f'{name} {variant}'
            print(f'{label} ...', flush=True)
            results[label] = (seed_run if name == 'seed' else recipe_run)(model, data, work / label.replace(' ', '-'),
                                                                           args, variant, name)

    print(f'\n{args.samples} samples, batch {args.batch_size}, LAZY_TOKENIZE={args.lazy_tokenize}, {environment()}')
    print(f'{"run":<24}{"samples/s":>12}{"real tok/s":>12}{"peak RSS GiB":>14}{"peak GPU GiB":>14}{"vs seed":>10}')
    seed_sps = results['seed nockpt'][0]
    for label, (sps, tps, rss, gpu) in results.items():
        print(f'{label:<24}{sps:>12.4f}{tps:>12.1f}{rss / 2**30:>14.2f}{gpu:>14.2f}{sps / seed_sps:>9.2f}x')
    token_budget(model)


if __name__ == '__main__':
    main()
