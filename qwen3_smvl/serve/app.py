"""The web demo: ms-swift's `swift app` page, talking to recipes/deploy.sh, with answers shown as people read them.

  python -m qwen3_smvl.serve.app --model DIR [swift app arguments]      (recipes/app.sh passes them from the environment)

deploy.sh serves the checkpoint on a free local port (its backend choice, environments and image limits), and swift's
own page (`swift app --base_url`) talks to it. Three of the page's functions are wrapped, the rest is swift's:
  - an answer's thinking (the server's reasoning_content) is folded under a 思考过程 summary; refs and boxes show
    as text, not raw tokens
  - an answer with boxes is followed by the question's image with the boxes drawn on it
  - an upload that is not a usable image is refused on the page, naming it and why; the chat goes on
"""
import os
import re
import signal
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

import gradio as gr
import swift.pipelines.app.build_ui as swift_page
from PIL import Image
from swift.pipelines.app import SwiftApp

from qwen3_smvl.draw import draw_boxes
from qwen3_smvl.grounding import parse
from qwen3_smvl.images import ImageError, open_image
from qwen3_smvl.serve.deploy import served
from qwen3_smvl.tokens import BOX_END, BOX_START, OBJECT_REF_END, OBJECT_REF_START, THINK_END, THINK_START

THINKING = re.compile(r'^\s*<think>(.*?)(?:</think>|$)', re.S)  # a streamed answer may not have closed it yet
REF = re.compile(f'{re.escape(OBJECT_REF_START)}(.*?)(?:{re.escape(OBJECT_REF_END)}|$)', re.S)
BOX = re.compile(f'{re.escape(BOX_START)}(.*?)(?:{re.escape(BOX_END)}|$)', re.S)
BOX_COLOUR = 'red'
DRAWN_SHORT_SIDE = 192  # pixels

escape = swift_page._parse_text  # swift's escaping of <, > and * for the chat's markdown


def shown(text: str) -> str:
    """A message as the page shows it: thinking folded, refs and boxes as plain text (the picture shows the boxes)."""
    think = THINKING.match(text)
    answer = text[think.end():] if think else text
    answer = escape(BOX.sub(r' \1', REF.sub(r'\1', answer))).strip()
    if think and think.group(1).strip():
        return f'<details><summary>思考过程</summary>\n\n{escape(think.group(1).strip())}\n\n</details>\n\n{answer}'
    return answer


def last_image(real_history: list) -> Optional[str]:
    """The path of the latest uploaded image (swift keeps an upload as a ((path,), None) row)."""
    for row in reversed(real_history):
        if isinstance(row[0], (list, tuple)):
            return row[0][0]
    return None


def boxes_picture(real_history: list) -> Optional[str]:
    """The latest image with the last answer's boxes drawn, saved for the page; None without both."""
    answer, image_path = real_history[-1][1] or '', last_image(real_history)
    boxes = parse(answer).boxes
    if not boxes or image_path is None:
        return None
    image = open_image(image_path)
    scale = max(1.0, DRAWN_SHORT_SIDE / min(image.size))  # small pictures enlarged so the labels can be read
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.NEAREST)
    drawn = draw_boxes(image, [(b.to_pixels(*image.size), b.ref, BOX_COLOUR) for b in boxes])
    with tempfile.NamedTemporaryFile(prefix='smvl-boxes-', suffix='.png', delete=False) as out:  # gradio serves temp
        drawn.save(out, format='PNG')
    return out.name


class ThinkingAsText:
    """The page's client with each answer's `reasoning_content` (the server's thinking, qwen3_smvl/serve/reasoning.py)
    put back in front of its `content` as a <think> block, which `shown` folds: swift's page reads `content` alone."""

    def __init__(self, client):
        self.client = client

    async def infer_async(self, *args, **kwargs):
        result = await self.client.infer_async(*args, **kwargs)
        if hasattr(result, 'choices'):  # not streamed
            message = result.choices[0].message
            if message.reasoning_content:
                message.content = f'{THINK_START}\n{message.reasoning_content}\n{THINK_END}\n\n{message.content or ""}'
            return result
        return self.stream(result)

    @staticmethod
    async def stream(chunks):
        opened = closed = False
        async for chunk in chunks:
            if chunk is not None:
                delta = chunk.choices[0].delta
                text = ''
                if delta.reasoning_content:
                    text, opened = ('' if opened else f'{THINK_START}\n') + delta.reasoning_content, True
                if delta.content and opened and not closed:
                    text, closed = f'{text}\n{THINK_END}\n\n', True
                delta.content = text + (delta.content or '')
            yield chunk


async def model_chat(history: list, real_history: list, system: Optional[str], **kwargs):
    """swift's model_chat with the thinking shown, then the drawn boxes as a row of their own (dropped again before a
    regenerate)."""
    while history and history[-1][0] is None:  # a drawn-boxes row is the page's only row without a user part
        history.pop()
    kwargs['client'] = ThinkingAsText(kwargs['client'])
    async for history, real_history in swift_model_chat(history, real_history, system, **kwargs):
        yield history, real_history
    picture = boxes_picture(real_history) if real_history else None
    if picture:
        yield history + [[None, (picture, )]], real_history


def add_file(history: list, real_history: list, file):
    """swift's add_file for a readable image within the size limits; anything else is refused on the page."""
    try:
        open_image(file.name)
    except ImageError as e:
        raise gr.Error(f'{Path(file.name).name} was not added: {e}')
    return swift_add_file(history, real_history, file)


swift_model_chat, swift_add_file = swift_page.model_chat, swift_page.add_file


def use_in_swift_page() -> None:
    """Put the wrappers where swift's build_ui looks them up when it builds the page."""
    swift_page.model_chat, swift_page.add_file, swift_page._parse_text = model_chat, add_file, shown


def main(argv: Optional[List[str]] = None) -> None:
    app = SwiftApp(sys.argv[1:] if argv is None else argv)  # swift's own argument checks, before anything starts
    use_in_swift_page()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # a stopped page stops its server too (served's finally)
    if app.args.base_url:  # a server that is already up
        return app.main()
    log = Path(os.environ.get('DEPLOY_LOG') or tempfile.mkstemp(prefix='smvl-deploy-', suffix='.log')[1])
    print(f'starting recipes/deploy.sh for {app.args.model} (log: {log})', flush=True)
    with served(app.args.model, log, BACKEND=os.environ.get('BACKEND', 'auto')) as base_url:
        print(f'the page talks to {base_url}', flush=True)
        app.args.base_url, app.args.model_suffix = base_url, None  # None: the page asks the server its model's name
        app.main()


if __name__ == '__main__':
    main()
