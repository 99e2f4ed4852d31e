"""A model's answers to swift jsonl rows, greedy, through swift's own inference engine and the plugin (evaluation
and stage 3's preference rows), and the answer part of a response (after Qwen3's thinking block)."""
from typing import List

from PIL import Image

from .grounding import render
from .images import open_image
from .swift_plugin import load_plugin
from .tokens import THINK_END


def answer_text(response: str) -> str:
    """The answer without the (empty) thinking block that Qwen3's non-thinking mode puts before it."""
    return response.split(THINK_END)[-1].strip()


def generate(model_dir, rows: List[dict], *, blank: bool = False, max_batch_size: int = 16,
             max_new_tokens: int = 16) -> List[str]:
    """Greedy answers to each row's question (its messages but the last; `<ref-object>` tags filled in), in the rows'
    order. Rows are batched with reference answers (their last message) of like length, as a batch decodes until its
    longest answer ends: 200 box answers of the demo's model took 14.4 s batched as they came, 12.4 s so (the same;
    2-core Intel Xeon)."""
    from swift.infer_engine import InferRequest, RequestConfig, TransformersEngine
    from tqdm import tqdm
    plugin = load_plugin()
    engine = TransformersEngine(str(model_dir), model_type=plugin.MODEL_TYPE, max_batch_size=max_batch_size)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]['messages'][-1]['content']))
    requests: List[InferRequest] = []
    for row in (rows[i] for i in order):
        images = [Image.new('RGB', open_image(p).size, (255, 255, 255)) if blank else p for p in row['images']]
        messages = [dict(m, content=render(m['content'], row.get('objects') or {})) for m in row['messages'][:-1]]
        requests.append(InferRequest(messages=messages, images=images))
    config = RequestConfig(max_tokens=max_new_tokens, temperature=0)
    responses = []
    for start in tqdm(range(0, len(requests), max_batch_size), desc=f'eval {"blank" if blank else "images"}'):
        batch = engine.infer(requests[start:start + max_batch_size], config, use_tqdm=False)
        responses += [answer_text(r.choices[0].message.content) for r in batch]
    return [response for _, response in sorted(zip(order, responses))]
