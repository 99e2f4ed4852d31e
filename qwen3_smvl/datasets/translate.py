"""Translate a swift jsonl into Chinese through any OpenAI-compatible endpoint, row by row, resumably.

Only the text between a row's tags is sent: `<image>`, `<video>`, `<audio>`, `<ref-object>`, `<bbox>`, Qwen's special
tokens and option letters at the start of a line ("A.", "(B)") are kept out of the requests, so a translation cannot
lose or move them. Numbers travel with their sentence: a translation that drops one, or brings a tag of its own, is
refused (and retried).
Images, objects and every other key are copied as they are.

Each finished row is appended to the output as one line, keyed by its `id` (added as `line-N` when the row has
none). A re-run skips the ids already there and drops a last line cut short by a kill, so a run can be stopped and
started again without redoing or duplicating a row; a row that failed is not written, and the next run retries it.
"""
import hashlib
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

from ..client import post

SPECIAL = r'<image>|<video>|<audio>|<ref-object>|<bbox>|<\|[a-z_]+\|>'
TAGS = re.compile(rf'({SPECIAL}|(?:^|(?<=\n))\s*(?:\([A-Z]\)|[A-Z][.．、:：)])\s*)')
NUMBER = re.compile(r'\d+(?:[.,]\d+)*')
SYSTEM = '你是专业的翻译。把用户给出的文字翻译成简体中文，只输出译文，不要解释，不要加引号。数字保持不变。'


class TranslationError(RuntimeError):
    pass


@dataclass
class Endpoint:
    url: str
    model: str
    api_key: str = None
    retries: int = 4
    backoff: float = 1.0
    timeout: float = 300
    max_tokens: int = 2048

    def ask(self, text: str) -> str:
        """The translation of one piece of text; retried with exponential backoff on errors and refusals."""
        body = {'model': self.model, 'temperature': 0, 'max_tokens': min(self.max_tokens, 64 + 4 * len(text)),
                'messages': [{'role': 'system', 'content': SYSTEM}, {'role': 'user', 'content': text}]}
        problem = ''
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                status, reply = post(self.url, body, timeout=self.timeout, api_key=self.api_key)
            except OSError as e:  # refused, reset, timed out: the server may come back
                problem = f'{type(e).__name__}: {e}'
                continue
            if status != 200:
                problem = f'HTTP {status}: {reply[:200]}'
                if 400 <= status < 500 and status != 429:
                    break  # the request itself is wrong: asking again will not help
                continue
            answer = json.loads(reply)['choices'][0]['message']['content'] or ''
            answer = answer.split('</think>')[-1].strip()
            missing = [n for n in NUMBER.findall(text) if n not in answer]
            if answer and not missing and not re.search(SPECIAL, answer):
                return answer
            problem = (f'the translation dropped the numbers {missing}' if missing else 'empty translation'
                       if not answer else f'the translation has a tag of its own: {answer[:80]!r}')
        raise TranslationError(problem)


def translate_text(text: str, endpoint: Endpoint) -> str:
    pieces = TAGS.split(text)
    return ''.join(piece if i % 2 or not re.search(r'\w', piece) else
                   piece[:len(piece) - len(piece.lstrip())] + endpoint.ask(piece.strip()) +
                   piece[len(piece.rstrip()):] for i, piece in enumerate(pieces))


def translate_row(row: dict, endpoint: Endpoint) -> dict:
    messages = [dict(m, content=translate_text(m['content'], endpoint))
                if m['role'] in ('user', 'assistant') and isinstance(m.get('content'), str) else m
                for m in row['messages']]
    return dict(row, messages=messages)


def finished_ids(output: Path) -> set:
    """Ids already written; a last line cut short by a kill (no newline yet) is removed first."""
    if not output.exists():
        return set()
    *complete, tail = output.read_text().split('\n')
    if tail:
        output.write_text(''.join(line + '\n' for line in complete))
    return {json.loads(line)['id'] for line in complete}


def read_rows(source: str, image_dir: Path) -> List[dict]:
    """A swift jsonl's rows, or a dataset's (any name or folder swift loads) with its encoded images written to
    image_dir as files named by their hash; each row gets an id (`line-N`) if it has none."""
    if Path(source).is_file() and source.endswith('.jsonl'):
        rows = [json.loads(line) for line in Path(source).read_text().splitlines() if line.strip()]
    else:
        from swift.dataset import load_dataset

        from .registry import register
        register()  # the_cauldron and the Chinese sets by name
        rows = [dict(row, images=[image_file(image, image_dir) for image in row.get('images') or []])
                for row in load_dataset([source])[0]]
    return [dict(row, id=row.get('id', f'line-{n}')) for n, row in enumerate(rows)]


def image_file(image, image_dir: Path) -> str:
    if isinstance(image, dict) and image.get('path') and not image.get('bytes'):
        return image['path']
    data = image['bytes'] if isinstance(image, dict) else image
    path = image_dir / (hashlib.sha256(data).hexdigest()[:20] + '.img')
    if not path.exists():
        image_dir.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return str(path.resolve())


def translate_file(source: str, output: Path, endpoint: Endpoint, concurrency: int = 4) -> Dict[str, int]:
    from tqdm import tqdm
    rows = read_rows(str(source), output.parent / (output.stem + '_images'))
    done = finished_ids(output)
    todo = [r for r in rows if r['id'] not in done]
    counts = {'translated': 0, 'skipped': len(rows) - len(todo), 'failed': 0}
    failures: List[str] = []
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, 'a') as out, ThreadPoolExecutor(concurrency) as pool, \
            tqdm(total=len(rows), initial=counts['skipped'], desc='translate', unit='row') as bar:
        futures = {pool.submit(translate_row, row, endpoint): row['id'] for row in todo}
        for future in as_completed(futures):
            try:
                translated = future.result()
            except TranslationError as e:
                counts['failed'] += 1
                failures.append(f'{futures[future]}: {e}')
            else:
                # one whole line per write, flushed: a kill leaves at most one partial last line
                out.write(json.dumps(translated, ensure_ascii=False) + '\n')
                out.flush()
                counts['translated'] += 1
            bar.update()
    counts['failures'] = failures
    return counts
