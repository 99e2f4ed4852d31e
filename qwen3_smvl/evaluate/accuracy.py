"""Accuracy on a swift jsonl split, through swift's own inference engine and the plugin: exact match for questions,
boxes at IoU >= 0.5 for grounding rows.

`blank=True` swaps every image for a white one of the same size: the gap between the two accuracies is what the
model reads off the images, the rest is what it guesses from the question.
"""
import json
from pathlib import Path
from typing import Dict, List

from PIL import Image

from ..grounding import boxes_match, pixel_boxes, render
from ..images import open_image
from ..swift_plugin import load_plugin


def answer_text(response: str) -> str:
    """The answer without the (empty) thinking block that Qwen3's non-thinking mode puts before it."""
    return response.split('</think>')[-1].strip()


def generate(model_dir, rows: List[dict], *, blank: bool = False, max_batch_size: int = 16,
             max_new_tokens: int = 16) -> List[str]:
    """Greedy answers to each row's question (its messages but the last; `<ref-object>` tags filled in)."""
    from swift.infer_engine import InferRequest, RequestConfig, TransformersEngine
    from tqdm import tqdm
    plugin = load_plugin()
    engine = TransformersEngine(str(model_dir), model_type=plugin.MODEL_TYPE, max_batch_size=max_batch_size)
    requests: List[InferRequest] = []
    for row in rows:
        images = [Image.new('RGB', open_image(p).size, (255, 255, 255)) if blank else p for p in row['images']]
        messages = [dict(m, content=render(m['content'], row.get('objects') or {})) for m in row['messages'][:-1]]
        requests.append(InferRequest(messages=messages, images=images))
    config = RequestConfig(max_tokens=max_new_tokens, temperature=0)
    responses = []
    for start in tqdm(range(0, len(requests), max_batch_size), desc=f'eval {"blank" if blank else "images"}'):
        batch = engine.infer(requests[start:start + max_batch_size], config, use_tqdm=False)
        responses += [answer_text(r.choices[0].message.content) for r in batch]
    return responses


def exact_match(model_dir, jsonl, **kwargs) -> Dict:
    rows = [json.loads(line) for line in Path(jsonl).read_text().splitlines()]
    responses = generate(model_dir, rows, **kwargs)
    answers = [row['messages'][-1]['content'] for row in rows]
    correct = sum(r == a for r, a in zip(responses, answers))
    return {'accuracy': correct / len(rows), 'correct': correct, 'total': len(rows),
            'examples': [{'question': row['messages'][-2]['content'], 'answer': a, 'response': r}
                         for row, a, r in list(zip(rows, answers, responses))[:5]]}


def grounding_accuracy(model_dir, jsonl, max_new_tokens: int = 96, **kwargs) -> Dict:
    """Rows whose answer has as many boxes as the truth, each at IoU >= 0.5 with its own (Acc@IoU0.5)."""
    rows = [json.loads(line) for line in Path(jsonl).read_text().splitlines()]
    responses = generate(model_dir, rows, max_new_tokens=max_new_tokens, **kwargs)
    correct, examples = 0, []
    for row, response in zip(rows, responses):
        hit = boxes_match(pixel_boxes(response, *open_image(row['images'][0]).size), row['objects']['bbox'])
        correct += hit
        examples.append({'id': row.get('id'), 'image': row['images'][0], 'question': row['messages'][-2]['content'],
                         'truth': row['objects']['bbox'], 'response': response, 'correct': hit})
    return {'accuracy': correct / len(rows), 'correct': correct, 'total': len(rows), 'examples': examples}
