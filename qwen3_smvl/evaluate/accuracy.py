"""Accuracy on a swift jsonl split, through swift's own inference engine and the plugin: exact match for questions,
boxes at IoU >= 0.5 for grounding rows.

`blank=True` swaps every image for a white one of the same size: the gap between the two accuracies is what the
model reads off the images, the rest is what it guesses from the question.
"""
import json
from pathlib import Path
from typing import Dict

from ..answers import generate
from ..grounding import boxes_match, mean_iou, pixel_boxes
from ..images import open_image


def exact_match(model_dir, jsonl, **kwargs) -> Dict:
    rows = [json.loads(line) for line in Path(jsonl).read_text().splitlines()]
    responses = generate(model_dir, rows, **kwargs)
    answers = [row['messages'][-1]['content'] for row in rows]
    correct = sum(r == a for r, a in zip(responses, answers))
    return {'accuracy': correct / len(rows), 'correct': correct, 'total': len(rows), 'responses': responses,
            'examples': [{'question': row['messages'][-2]['content'], 'answer': a, 'response': r}
                         for row, a, r in list(zip(rows, answers, responses))[:5]]}


def grounding_accuracy(model_dir, jsonl, max_new_tokens: int = 96, **kwargs) -> Dict:
    """Rows whose answer has as many boxes as the truth, each at IoU >= 0.5 with its own (Acc@IoU0.5)."""
    rows = [json.loads(line) for line in Path(jsonl).read_text().splitlines()]
    responses = generate(model_dir, rows, max_new_tokens=max_new_tokens, **kwargs)
    correct, ious, examples = 0, [], []
    for row, response in zip(rows, responses):
        predicted, truth = pixel_boxes(response, *open_image(row['images'][0]).size), row['objects']['bbox']
        hit = boxes_match(predicted, truth)
        correct += hit
        ious.append(mean_iou(predicted, truth))
        examples.append({'id': row.get('id'), 'image': row['images'][0], 'question': row['messages'][-2]['content'],
                         'truth': truth, 'response': response, 'correct': hit, 'iou': ious[-1]})
    return {'accuracy': correct / len(rows), 'correct': correct, 'total': len(rows), 'mean_iou': sum(ious) / len(rows),
            'examples': examples}
