"""tools/translate_dataset.py against a real `swift deploy` of the tiny splice: tags and images kept, resumable, and
a server that goes away gives counted failures, never a lost or duplicated row."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO
from qwen3_smvl.datasets.translate import TAGS

pytestmark = pytest.mark.slow
TAG = re.compile(r'<image>|<ref-object>|<bbox>|<\|[a-z_]+\|>|(?m:^\s*(?:\([A-Z]\)|[A-Z][.)]))')


def rows(tmp_path, n):
    image = str(tmp_path / 'red.png')
    from PIL import Image
    Image.new('RGB', (40, 30), 'red').save(image)
    kinds = [
        {'messages': [{'role': 'user', 'content': '<image>What colour is the square?'},
                      {'role': 'assistant', 'content': 'It is red.'}], 'images': [image]},
        {'messages': [{'role': 'system', 'content': 'You see pictures.'},
                      {'role': 'user', 'content': 'Which colour?\nA. red\nB. blue\n<image>'},
                      {'role': 'assistant', 'content': 'A'}, {'role': 'user', 'content': 'Why?'},
                      {'role': 'assistant', 'content': 'Because the square is red.'}], 'images': [image]},
        {'messages': [{'role': 'user', 'content': '<image>Find <ref-object>'},
                      {'role': 'assistant', 'content': '<ref-object><bbox>'}], 'images': [image],
         'objects': {'ref': ['the square', 'the square'], 'bbox': [[2, 3, 20, 25]]}},
        {'messages': [{'role': 'user', 'content': 'Say hello.'}, {'role': 'assistant', 'content': 'Hello there.'}]},
    ]
    data = [dict(kinds[k % len(kinds)], id=f'r{k}') for k in range(n)]
    path = tmp_path / 'in.jsonl'
    path.write_text(''.join(json.dumps(r) + '\n' for r in data))
    return path, data


def command(base, src, out, *extra):
    # four tokens per piece: the random head's answers stay short (and tag-free) on the CPU
    return [sys.executable, 'tools/translate_dataset.py', '--api-url', base, '--model', 'qwen3-smvl',
            '--input', str(src), '--output', str(out), '--max-tokens', '4', *extra]


def assert_same_structure(original, translated):
    assert [m['role'] for m in translated['messages']] == [m['role'] for m in original['messages']]
    for a, b in zip(original['messages'], translated['messages']):
        assert TAG.findall(b['content']) == TAG.findall(a['content']), (a, b)
        if a['role'] == 'system':
            assert b == a
    assert {k: v for k, v in translated.items() if k != 'messages'} == \
        {k: v for k, v in original.items() if k != 'messages'}


def test_split_keeps_tags_and_option_letters_out_of_the_text():
    pieces = TAGS.split('Which colour?\nA. red\n(B) blue\n<image> and 3 <ref-object>')
    assert pieces[1::2] == ['A. ', '(B) ', '<image>', '<ref-object>']


def test_translate_resume_and_outage(distinct_head_model, tmp_path):
    from qwen3_smvl.serve.deploy import SERVER_PIDS, served
    src, data = rows(tmp_path, 12)
    out = tmp_path / 'out.jsonl'
    with served(distinct_head_model, tmp_path / 'deploy.log', MAX_NEW_TOKENS=8) as base:
        # killed part-way, then run again: every row exactly once
        proc = subprocess.Popen(command(base, src, out, '--concurrency', '1'), cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.time() + 300
        while time.time() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 3):
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        written = len(out.read_text().splitlines())
        assert 3 <= written < 12
        with out.open('a') as f:
            f.write('{"id": "r99", "messa')  # what a kill in the middle of a write would leave
        res = subprocess.run(command(base, src, out, '--concurrency', '3'), cwd=REPO, capture_output=True, text=True)
        assert f'skipped {written} (already done), failed 0' in res.stdout
    ids = [json.loads(line)['id'] for line in out.read_text().splitlines()]
    assert sorted(ids) == sorted(r['id'] for r in data)
    by_id = {json.loads(line)['id']: json.loads(line) for line in out.read_text().splitlines()}
    for row in data:
        assert_same_structure(row, by_id[row['id']])
    assert by_id['r0']['messages'][0]['content'] != data[0]['messages'][0]['content']  # text was sent and replaced

    # the server goes away part-way: retries, then counted failures; a later run finishes the rest, no duplicates
    (tmp_path / 'second').mkdir()
    src2, data2 = rows(tmp_path / 'second', 8)
    out2 = tmp_path / 'out2.jsonl'
    with served(distinct_head_model, tmp_path / 'deploy2.log', MAX_NEW_TOKENS=8) as base:
        proc = subprocess.Popen(command(base, src2, out2, '--concurrency', '1', '--retries', '2', '--backoff', '0.2'),
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while not out2.exists() or len(out2.read_text().splitlines()) < 2:
            time.sleep(0.2)
        os.killpg(SERVER_PIDS[base], signal.SIGKILL)  # the server dies mid-run
        stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 1 and 'failed' in stderr
    translated, failed = map(int, re.search(r'translated (\d+), skipped 0 \(already done\), failed (\d+)',
                                            stdout).groups())
    assert translated + failed == 8 and failed >= 1
    assert len(out2.read_text().splitlines()) == translated
    with served(distinct_head_model, tmp_path / 'deploy3.log', MAX_NEW_TOKENS=8) as base:
        res = subprocess.run(command(base, src2, out2), cwd=REPO, capture_output=True, text=True)
    assert f'translated {failed}, skipped {translated}' in res.stdout
    assert sorted(json.loads(line)['id'] for line in out2.read_text().splitlines()) == sorted(r['id'] for r in data2)
