"""The web page (recipes/app.sh: swift app's page over deploy.sh) in a real headless Chromium, driven by Selenium."""
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from PIL import Image

from conftest import EXPECTED_BOX, REPO, ref_text
from qwen3_smvl.serve.app import shown
from qwen3_smvl.serve.deploy import free_port, stop

CHROMIUM, CHROMEDRIVER = shutil.which('chromium'), shutil.which('chromedriver')
needs_browser = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason=(
    'no chromium + chromedriver (Debian: apt-get install chromium chromium-driver; .ci/run installs them as root)'))
DEMO = REPO / 'runs' / 'demo'
DEMO_MODEL = DEMO / 'stage2' / 'last-checkpoint'
ANSWER_SECONDS = 120


def test_thinking_is_folded_and_tokens_are_shown_as_text():
    answer = f'<think>\n先数一数 <x>\n</think>\n\n{EXPECTED_BOX}'
    assert shown(answer) == ('<details><summary>思考过程</summary>\n\n先数一数 &lt;x&gt;\n\n</details>\n\n'
                             '红色圆形 (125,250),(375,750)')
    assert shown('<think>\n\n</think>\n\n三个') == '三个'  # the empty block of non-thinking mode goes
    assert shown('<think>\n先数') == '<details><summary>思考过程</summary>\n\n先数\n\n</details>\n\n'  # still streaming
    assert shown('a*b<c>') == 'a&ast;b&lt;c&gt;'  # swift's escaping kept


@contextlib.contextmanager
def app_page(model: Path, work: Path, **env) -> Iterator:
    """recipes/app.sh on a free port, and a headless Chromium showing its page; both stopped in every outcome."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    port, log = free_port(), work / 'app.log'
    env = {**os.environ, 'MODEL': str(model), 'PORT': str(port), 'DEPLOY_LOG': str(work / 'deploy.log'),
           'MAX_NEW_TOKENS': '96', **env}
    with open(log, 'w') as out:
        app = subprocess.Popen(['bash', str(REPO / 'recipes' / 'app.sh')], env=env, stdout=out,
                               stderr=subprocess.STDOUT, start_new_session=True)
    url = f'http://127.0.0.1:{port}/'
    try:
        deadline = time.time() + 600
        while True:
            assert app.poll() is None, f'recipes/app.sh exited ({app.returncode}): {log.read_text()[-3000:]}'
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                assert time.time() < deadline, f'no page at {url} after 600 s: {log.read_text()[-3000:]}'
                time.sleep(1)
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--window-size=1200,1300'):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            driver.get(url)
            wait_for(driver, 'the page did not render', lambda d: d.find_elements(By.CSS_SELECTOR, 'input[type=file]'),
                     60)
            yield driver
        finally:
            driver.quit()
    finally:
        stop(app)
    server = re.search(r'the page talks to (\S+)', log.read_text()).group(1)
    with pytest.raises(OSError):  # stopping the page stopped its server
        urllib.request.urlopen(server + '/models', timeout=2)


def wait_for(driver, what: str, condition, seconds: float = ANSWER_SECONDS, seen=lambda d: ''):
    """condition(driver)'s first truthy value; on timeout a screenshot and `seen(driver)` say what the page showed."""
    from selenium.webdriver.support.ui import WebDriverWait
    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.5).until(condition)
    except Exception:
        driver.save_screenshot('/tmp/smvl-app-failure.png')
        raise AssertionError(f'{what} within {seconds} s (page showed {seen(driver)!r}); '
                             f'screenshot: /tmp/smvl-app-failure.png') from None


def messages(driver, who: str) -> list:
    from selenium.webdriver.common.by import By
    return driver.find_elements(By.CSS_SELECTOR, f'[data-testid={who}]')


def bot_text(driver, index: int):
    bots = messages(driver, 'bot')
    return bots[index].text if len(bots) > index else None


def upload(driver, path: Path) -> None:
    from selenium.webdriver.common.by import By
    driver.find_element(By.CSS_SELECTOR, 'input[type=file]').send_keys(str(path))


def ask(driver, question: str) -> None:
    """Type into the page's Input box and press Enter (swift's textbox.submit)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    box = driver.find_element(By.XPATH, "//span[normalize-space()='Input']/ancestor::label//textarea")
    box.send_keys(question)
    box.send_keys(Keys.ENTER)


def clear_history(driver) -> None:
    from selenium.webdriver.common.by import By
    button = driver.find_element(By.XPATH, "//button[contains(., '清空历史') and not(contains(., 'system'))]")
    driver.execute_script('arguments[0].click()', button)  # an error toast may lie over it
    wait_for(driver, 'the chat was not cleared', lambda d: not messages(d, 'user') and not messages(d, 'bot'))


def wait_for_answer(driver, index: int, expected: str) -> None:
    """The page's bot message `index` reads `expected` (answers stream in, so it may take a few reads)."""
    wait_for(driver, f'no answer {expected!r}', lambda d: bot_text(d, index) == expected,
             seen=lambda d: bot_text(d, index))


def drawn_boxes_image(driver, index: int):
    """The picture of bot message `index`: the boxes drawn, once the answer has finished streaming."""
    from selenium.webdriver.common.by import By
    return wait_for(driver, 'no drawn boxes', lambda d: len(messages(d, 'bot')) > index and (
        messages(d, 'bot')[index].find_elements(By.TAG_NAME, 'img') or [None])[0])


@pytest.fixture(scope='module')
def box_page(box_model, tmp_path_factory):
    model, image = box_model
    work = tmp_path_factory.mktemp('app')
    with app_page(model, work) as driver:
        yield driver, image, work


@pytest.mark.slow
@needs_browser
def test_page_answers_a_chinese_question_and_draws_its_boxes(box_page, tmp_path):
    """Upload a picture, ask in Chinese for a box: the trained model's answer, and the picture with the box drawn."""
    driver, image, work = box_page
    assert 'enable_thinking=False' in (work / 'deploy.log').read_text()  # app.sh's ENABLE_THINKING reached swift
    upload(driver, image)
    wait_for(driver, 'the uploaded picture is not shown', lambda d: messages(d, 'user'))
    ask(driver, '框出' + ref_text('红色圆形'))
    wait_for_answer(driver, 0, '红色圆形 (125,250),(375,750)')
    picture = drawn_boxes_image(driver, 1)
    drawn = Image.open(io.BytesIO(urllib.request.urlopen(picture.get_attribute('src')).read())).convert('RGB')
    assert drawn.size == (256, 192)  # the 64x48 upload, enlarged to a readable size
    x1, x2, y_mid = round(0.125 * 256), round(0.375 * 256), 192 // 2  # the box's sides, from (125,250),(375,750)
    for side in (x1, x2):  # outlined in red there, give or take the rounding of a pixel
        assert (255, 0, 0) in [drawn.getpixel((x, y_mid)) for x in range(side - 1, side + 2)]
    assert drawn.getpixel(((x1 + x2) // 2, y_mid)) == (255, 255, 255)  # the picture itself inside the box
    assert messages(driver, 'user')[-1].text == '框出红色圆形'  # the ref tokens shown as text
    driver.save_screenshot(str(tmp_path / 'app.png'))


@pytest.mark.slow
@needs_browser
def test_page_refuses_a_file_that_is_not_an_image_and_goes_on(box_page, tmp_path):
    from selenium.webdriver.common.by import By
    driver, image, _ = box_page
    users = len(messages(driver, 'user'))
    notes = tmp_path / 'notes.txt'
    notes.write_text('这不是图片')
    upload(driver, notes)
    toast = wait_for(driver, 'no error shown', lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid=toast-body]'))
    assert 'notes.txt was not added' in toast[0].text and 'not a readable image' in toast[0].text, toast[0].text
    assert len(messages(driver, 'user')) == users  # nothing added to the chat
    # The page goes on. A fresh chat: with the earlier turns' pictures in the prompt the tiny model is off the one
    # row it was trained on, and its box then hangs on float noise (seen once under load: (375,250),(375,750)).
    clear_history(driver)
    upload(driver, image)
    ask(driver, '框出' + ref_text('红色圆形'))
    wait_for_answer(driver, 0, '红色圆形 (125,250),(375,750)')
    drawn_boxes_image(driver, 1)
    # A thinking part shows folded: here in a question, which goes through the same display function as answers.
    ask(driver, '<think>先想一想</think>你好')
    details = wait_for(driver, 'no folded thinking',
                       lambda d: messages(d, 'user')[-1].find_elements(By.TAG_NAME, 'details'),
                       seen=lambda d: messages(d, 'user')[-1].text)[0]
    assert details.find_element(By.TAG_NAME, 'summary').text == '思考过程'
    assert details.get_attribute('open') is None and '先想一想' not in messages(driver, 'user')[-1].text


@pytest.mark.slow
@needs_browser
@pytest.mark.skipif(not DEMO_MODEL.exists(), reason='no trained demo model: `make demo` trains one')
def test_page_answers_as_the_trained_demo_model(tmp_path):
    """The demo's model on held-out pictures: the page's answers are transformers' greedy answers, and right."""
    from qwen3_smvl.evaluate.accuracy import generate
    from qwen3_smvl.grounding import render
    rows = [json.loads(line) for line in (DEMO / 'data' / 'test.jsonl').read_text().splitlines()[:8]]
    offline = generate(DEMO_MODEL, rows)
    qa = next(r for r, a in zip(rows, offline) if a == r['messages'][1]['content'])  # a question it gets right
    box_row = json.loads((DEMO / 'data' / 'grounding_test.jsonl').read_text().splitlines()[0])
    box_answer = generate(DEMO_MODEL, [box_row], max_new_tokens=96)[0]
    with app_page(DEMO_MODEL.resolve(), tmp_path) as driver:
        upload(driver, qa['images'][0])  # the demo writes absolute paths
        question = qa['messages'][0]['content'].replace('<image>', '')
        ask(driver, question)
        wait_for_answer(driver, 0, qa['messages'][1]['content'])
        driver.save_screenshot(str(tmp_path / 'app-answer.png'))
        clear_history(driver)  # a new picture, a new conversation (generate() asks each question alone)
        upload(driver, box_row['images'][0])
        ask(driver, render(box_row['messages'][0]['content'].replace('<image>', ''), box_row['objects']))
        wait_for_answer(driver, 0, shown(box_answer))
        picture = drawn_boxes_image(driver, 1)
        driver.execute_script('arguments[0].scrollIntoView(false)', picture)  # its bottom in view
        driver.save_screenshot(str(tmp_path / 'app-boxes.png'))


def test_without_a_trained_demo_model_the_page_says_to_run_the_demo(tmp_path):
    (tmp_path / 'recipes').mkdir()
    shutil.copy(REPO / 'recipes' / 'app.sh', tmp_path / 'recipes')  # a checkout with no runs/
    res = subprocess.run(['bash', str(tmp_path / 'recipes' / 'app.sh')], capture_output=True, text=True, timeout=60,
                         env={k: v for k, v in os.environ.items() if k != 'MODEL'})
    assert res.returncode == 1
    assert 'no trained demo model' in res.stderr and 'run `make demo` first' in res.stderr, res.stderr


def test_the_servers_reasoning_content_is_shown_folded_above_the_answer():
    """The server sends thinking in reasoning_content (qwen3_smvl/serve/reasoning.py); swift's page reads content."""
    import asyncio
    from types import SimpleNamespace

    from qwen3_smvl.serve.app import ThinkingAsText

    def chunk(reasoning=None, content=''):
        return SimpleNamespace(choices=[SimpleNamespace(delta=SimpleNamespace(reasoning_content=reasoning,
                                                                              content=content))])

    async def server_stream():
        for c in (chunk('先数'), chunk('一数'), chunk(content='三'), chunk(content='个'), None):
            yield c

    class Client:
        async def infer_async(self, *args, **kwargs):
            return server_stream()

    async def page_text():
        text = ''
        async for c in await ThinkingAsText(Client()).infer_async():
            text += c.choices[0].delta.content if c is not None else ''
        return text
    text = asyncio.run(page_text())
    assert text == '<think>\n先数一数\n</think>\n\n三个'
    assert shown(text) == '<details><summary>思考过程</summary>\n\n先数一数\n\n</details>\n\n三个'
