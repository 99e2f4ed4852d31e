"""What a clip costs: tokens per clip by fps, frame cap and frame size, then stage-1 samples/s with video rows against
image rows in the same run (recipes/stage1.sh, one epoch each, the same questions and answers).

  python bench/video_cost.py [--preset real] [--samples 3] [--clip-seconds 8] [--work runs/bench-video]

`--preset real`: SmolVLM2-256M-Video-Instruct's processor and dimensions with Qwen3-0.6B's genuine tokenizer (random
weights, built once under --work); `tiny` for a quick check. Every frame is one global view (64 tokens at the real
dimensions) with its "Frame from MM:SS:" line, after a one-line header.
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from qwen3_smvl.splice.donors import make_splice  # noqa: E402
from qwen3_smvl.datasets.synthetic_video import write_mp4  # noqa: E402

DURATIONS = [5, 30, 60, 120, 600]  # seconds
SETTINGS = {
    "checkpoint's video_sampling": {},
    'SMVL_VIDEO_FPS=2': {'SMVL_VIDEO_FPS': '2'},
    'SMVL_VIDEO_FRAMES=16': {'SMVL_VIDEO_FRAMES': '16'},
    'SMVL_VIDEO_FRAMES=8': {'SMVL_VIDEO_FRAMES': '8'},
    'SMVL_VIDEO_SIZE=256': {'SMVL_VIDEO_SIZE': '256'},
}
QA = [('视频里的圆形往哪个方向移动？', '向右。'), ('请描述这段视频。', '白色背景上，一个红色的圆形从左往右移动，旁边有一个蓝色的正方形一直不动。'),
      ('视频里一共出现了几个图形？', '两个。')]


def picture(k: int, n: int, size=(320, 240)) -> Image.Image:
    w, h = size
    img = Image.new('RGB', size, (255, 255, 255))
    d = ImageDraw.Draw(img)
    x = w // 10 + (w // 2) * k // max(1, n - 1)
    d.ellipse((x, h // 4, x + h // 3, h // 4 + h // 3), fill=(220, 30, 30))
    d.rectangle((w - h // 3 - 10, h // 2, w - 10, h // 2 + h // 3), fill=(30, 70, 220))
    return img


def clip(path: Path, seconds: int, fps: int = 2) -> Path:
    """A moving circle, `fps` frames a second (at least the sampling rate, so that every setting gets its frames)."""
    if not path.exists():
        n = seconds * fps
        write_mp4(path, [picture(k, n, (64, 48)) for k in range(n)], fps=fps)
    return path


def template_for(model: Path, env: dict):
    os.environ.update({k: v for k, v in env.items()})
    for k in {k for s in SETTINGS.values() for k in s} - set(env):
        os.environ.pop(k, None)
    from qwen3_smvl.swift_plugin import load_plugin
    load_plugin()
    from swift.model import get_model_processor
    from swift.template import get_template
    _, processor = get_model_processor(str(model), model_type='qwen3_smvl', load_model=False)
    template = get_template(processor, template_type='qwen3_smvl')
    template.set_mode('train')
    return template


def clip_tokens(template, path: Path) -> int:
    """Tokens the clip adds to a prompt: header, timestamp lines, frames."""
    question = [{'role': 'assistant', 'content': '好'}]
    with_clip = template.encode({'messages': [{'role': 'user', 'content': '<video>?'}, *question],
                                 'videos': [str(path)]})['input_ids']
    without = template.encode({'messages': [{'role': 'user', 'content': '?'}, *question]})['input_ids']
    return len(with_clip) - len(without)


def token_table(model: Path, work: Path) -> None:
    clips = {s: clip(work / f'clip_{s}s.mp4', s) for s in DURATIONS}
    sampling = template_for(model, {}).processor.video_processor
    print(f'\ntokens per clip (swift template; the checkpoint samples {sampling.fps} fps, at most {sampling.num_frames} '
          'frames; every frame one global view)')
    print(f'{"setting":<42}' + ''.join(f'{s} s'.rjust(9) for s in DURATIONS))
    for name, env in SETTINGS.items():
        template = template_for(model, env)
        print(f'{name:<42}' + ''.join(str(clip_tokens(template, clips[s])).rjust(9) for s in DURATIONS), flush=True)


def rows(work: Path, n: int, seconds: int) -> dict:
    """The same questions and answers with an image (the clip's middle frame, 320x240) and with the clip."""
    data = {}
    for kind in ('image', 'video'):
        lines = []
        for i in range(n):
            q, a = QA[i % len(QA)]
            if kind == 'image':
                media = work / f'frame_{i}.png'
                picture(1, 3).save(media)
            else:
                media = work / f'train_clip_{i}.mp4'
                if not media.exists():
                    write_mp4(media, [picture(k, seconds) for k in range(seconds)], fps=1)
            lines.append({'id': f'{kind}-{i}', 'messages': [{'role': 'user', 'content': f'<{kind}>{q}'},
                                                             {'role': 'assistant', 'content': a}],
                          f'{kind}s': [str(media)]})
        data[kind] = work / f'{kind}_rows.jsonl'
        data[kind].write_text(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in lines))
    return data


def stage1(model: Path, data: Path, out: Path, n: int) -> dict:
    subprocess.run(['rm', '-rf', str(out)], check=True)
    env = {**os.environ, 'MODEL': str(model), 'DATASET': str(data), 'OUTPUT_DIR': str(out), 'NUM_EPOCHS': '1',
           'BATCH_SIZE': '1', 'WORKERS': '0', 'DATASET_NUM_PROC': '1', 'RESUME': 'none', 'LOGGING_STEPS': '1',
           'SAVE_STEPS': '100000', 'REPORT_TO': 'none', 'WARMUP_RATIO': '0', 'SAMPLE_STEPS': '0',
           'PATH': f'{Path(sys.executable).parent}:{os.environ["PATH"]}'}
    subprocess.run(['bash', 'recipes/stage1.sh'], cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.STDOUT)
    log = [json.loads(line) for line in (out / 'logging.jsonl').read_text().splitlines()]
    runtime = float(next(h['train_runtime'] for h in log if 'train_runtime' in h))
    return {'samples_per_s': n / runtime, 'runtime': runtime}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', default='real', choices=['real', 'tiny'])
    ap.add_argument('--samples', type=int, default=3, help='training rows of each kind')
    ap.add_argument('--clip-seconds', type=int, default=8, help='length of the training clips (1 fps: that many frames)')
    ap.add_argument('--work', type=Path, default=REPO / 'runs' / 'bench-video')
    ap.add_argument('--no-train', action='store_true', help='the token table only')
    ap.add_argument('--no-table', action='store_true', help='the training runs only')
    args = ap.parse_args()
    work = args.work.resolve() / args.preset
    work.mkdir(parents=True, exist_ok=True)
    model = make_splice(args.preset, work)
    if not args.no_table:
        token_table(model, work)
    if args.no_train:
        return
    data = rows(work, args.samples, args.clip_seconds)
    runs = {kind: stage1(model, data[kind], work / f'stage1-{kind}', args.samples) for kind in data}
    import torch
    print(f'\nstage 1, {args.samples} samples each, batch 1, {args.preset} dimensions, float32 on '
          f'{"a GPU" if torch.cuda.is_available() else "the CPU"} (torch {torch.__version__})')
    for kind, r in runs.items():
        print(f'  {kind} rows: {r["samples_per_s"]:.4f} samples/s ({r["runtime"]:.1f} s)')
    print(f'  video / image: {runs["video"]["samples_per_s"] / runs["image"]["samples_per_s"]:.3f}x samples/s '
          f'({args.clip_seconds}-frame clips against one 320x240 image)')


if __name__ == '__main__':
    main()
