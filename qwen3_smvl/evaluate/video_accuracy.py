"""Exact match on a swift jsonl of video rows, with each row's real clip, with only its first frame, or with a blank
clip, through swift's own inference engine and the plugin.

The first-frame and blank clips keep the clip's size, duration and frame count (so the prompt is the same length and
reads the same timestamps): real minus first-frame accuracy is what the model reads off time, not off one picture.
"""
import json
from pathlib import Path
from typing import Dict, List

from ..datasets.synthetic_video import blank_clip, first_frame_clip
from ..swift_plugin import load_plugin
from ..answers import answer_text

VARIANTS = {'real': None, 'first frame': first_frame_clip, 'blank': blank_clip}


def clips_for(rows: List[dict], variant: str, work: Path) -> List[str]:
    """Each row's clip path, or a copy of it made into `variant` under work/."""
    make = VARIANTS[variant]
    if make is None:
        return [row['videos'][0] for row in rows]
    folder = Path(work) / variant.replace(' ', '_')
    folder.mkdir(parents=True, exist_ok=True)
    return [str(make(row['videos'][0], folder / f'{i:05d}.mp4')) for i, row in enumerate(rows)]


def generate(model_dir, rows: List[dict], clips: List[str], max_batch_size: int = 16,
             max_new_tokens: int = 16) -> List[str]:
    from swift.infer_engine import InferRequest, RequestConfig, TransformersEngine
    plugin = load_plugin()
    engine = TransformersEngine(str(model_dir), model_type=plugin.MODEL_TYPE, max_batch_size=max_batch_size)
    requests = [InferRequest(messages=row['messages'][:-1], videos=[clip]) for row, clip in zip(rows, clips)]
    config = RequestConfig(max_tokens=max_new_tokens, temperature=0)
    responses = engine.infer(requests, config, use_tqdm=False)
    return [answer_text(r.choices[0].message.content) for r in responses]


def video_exact_match(model_dir, jsonl, variant: str = 'real', work: Path = None) -> Dict:
    rows = [json.loads(line) for line in Path(jsonl).read_text().splitlines()]
    clips = clips_for(rows, variant, work or Path(jsonl).parent / 'variants')
    responses = generate(model_dir, rows, clips)
    answers = [row['messages'][-1]['content'] for row in rows]
    per_question = {}
    for row, a, r in zip(rows, answers, responses):
        q = row['messages'][-2]['content'].replace('<video>', '')
        hit, n = per_question.get(q, (0, 0))
        per_question[q] = (hit + (r == a), n + 1)
    correct = sum(r == a for r, a in zip(responses, answers))
    return {'accuracy': correct / len(rows), 'correct': correct, 'total': len(rows),
            'per_question': {q: f'{h}/{n}' for q, (h, n) in per_question.items()},
            'examples': [{'video': c, 'answer': a, 'response': r}
                         for c, a, r in list(zip(clips, answers, responses))[:5]]}
