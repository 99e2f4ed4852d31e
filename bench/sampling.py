"""What drawing among the top-k tokens buys (qwen3_smvl/sampling.py): GRPO-sized top-k sampling with transformers' own
sampling (the whole vocabulary) and with the template's draw, greedy decoding beside them, the same inputs.

  python bench/sampling.py [--model DIR] [--rollouts 128] [--tokens 64] [--top-k 20]

Without --model it makes the demo's tiny-vocab splice (random, Qwen3's 151,936-token vocabulary) under
runs/bench-sampling. Every run generates exactly --tokens tokens for each of --rollouts copies of one picture's box
question, and prints its time and the ratio of transformers' sampling to the draw.
"""
import argparse
import sys
import time
from pathlib import Path

import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from qwen3_smvl.sampling import top_k_generate_kwargs  # noqa: E402
from qwen3_smvl.splice.donors import make_splice  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', type=Path)
    ap.add_argument('--rollouts', type=int, default=128)
    ap.add_argument('--tokens', type=int, default=64)
    ap.add_argument('--top-k', type=int, default=20)
    args = ap.parse_args()
    from transformers import AutoModelForImageTextToText, AutoProcessor, GenerationConfig
    model_dir = args.model or make_splice('tiny-vocab', REPO / 'runs' / 'bench-sampling')
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32).eval()
    processor = AutoProcessor.from_pretrained(model_dir)
    picture = Image.new('RGB', (64, 64), (255, 255, 255))
    messages = [{'role': 'user', 'content': [{'type': 'image'}, {'type': 'text', 'text': '框出图中所有的三角形'}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, enable_thinking=False)
    inputs = processor(text=[text] * args.rollouts, images=[[picture]] * args.rollouts, return_tensors='pt')
    length = dict(max_new_tokens=args.tokens, min_new_tokens=args.tokens)
    sampling = GenerationConfig(do_sample=True, temperature=1.0, top_k=args.top_k, top_p=1.0, **length)
    runs = {'greedy': {'generation_config': GenerationConfig(do_sample=False, **length)},
            'transformers': {'generation_config': sampling},
            'draw': top_k_generate_kwargs({'generation_config': sampling})}
    times = {}
    with torch.no_grad():
        model.generate(**inputs, max_new_tokens=2)  # first call's set-up out of the timings
        for name, kwargs in runs.items():
            torch.manual_seed(0)
            start = time.perf_counter()
            out = model.generate(**inputs, **kwargs)
            times[name] = time.perf_counter() - start
            assert out.shape[1] == inputs['input_ids'].shape[1] + args.tokens
            print(f'{name:<14}{times[name]:>8.1f} s  {args.rollouts} x {args.tokens} tokens', flush=True)
    print(f'transformers / draw: {times["transformers"] / times["draw"]:.2f}x the time '
          f'(greedy: {times["greedy"] / times["draw"]:.2f}x); {torch.get_num_threads()} threads, {model_dir}')


if __name__ == '__main__':
    main()
