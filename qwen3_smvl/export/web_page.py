"""web/ (transformers.js) driven from Python: `node web/ask.mjs`, a plain static server over the page and an exported
folder, and the page in headless Chromium through Selenium; shared by tests/test_web.py and bench/web_latency.py.

The page and the folder must come from one server (transformers.js fetches a local model by path), so the site is a
folder of two links: site/web -> web/, site/model -> the exported folder; the page is site/web/index.html?model=/model.
"""
import contextlib
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

from qwen3_smvl.serve.deploy import free_port, stop

WEB = Path(__file__).resolve().parents[2] / 'web'
NODE = shutil.which('node')


def web_installed() -> bool:
    return bool(NODE) and (WEB / 'node_modules' / '@huggingface' / 'transformers').is_dir()


def ask_node(folder: Path, image: Path, question: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """`node web/ask.mjs FOLDER IMAGE QUESTION --json ARGS...`, as run."""
    return subprocess.run([NODE, str(WEB / 'ask.mjs'), str(folder), str(image), question, '--json', *args],
                          capture_output=True, text=True, timeout=timeout)


def node_answer(folder: Path, image: Path, question: str, *args: str, timeout: float = 600) -> dict:
    """web/ask.mjs's answer: token ids, text, shown text, boxes, prompt length, timings, RSS."""
    res = ask_node(folder, image, question, *args, timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f'node web/ask.mjs exited {res.returncode}: {res.stderr[-3000:]}')
    return json.loads(res.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def static_site(model: Path, work: Path) -> Iterator[str]:
    """python -m http.server over web/ and `model`; yields the base URL, stops the server in every outcome."""
    root = work / 'site'
    root.mkdir()
    (root / 'web').symlink_to(WEB)
    (root / 'model').symlink_to(Path(model).resolve())
    port = free_port()
    server = subprocess.Popen([sys.executable, '-m', 'http.server', str(port), '--bind', '127.0.0.1', '--directory',
                               str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    url = f'http://127.0.0.1:{port}'
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(f'{url}/web/index.html', timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f'the static server on port {port} did not start') from None
                time.sleep(0.2)
        yield url
    finally:
        stop(server)


@contextlib.contextmanager
def chromium(window: str = '1100,1400') -> Iterator:
    """Headless Debian Chromium through chromedriver (both on PATH)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which('chromium')
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', f'--window-size={window}',
                '--enable-precise-memory-info'):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which('chromedriver')), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_state(driver, element_id: str, seconds: float) -> str:
    """The element's data-state once it is neither idle nor busy ('ready', 'done' or 'error')."""
    from selenium.webdriver.common.by import By
    deadline = time.time() + seconds
    while True:
        state = driver.find_element(By.ID, element_id).get_attribute('data-state')
        if state not in ('idle', 'busy'):
            return state
        if time.time() > deadline:
            driver.save_screenshot('/tmp/smvl-web-failure.png')
            status = driver.find_element(By.ID, 'status').text
            raise AssertionError(f'#{element_id} still {state} after {seconds} s (status: {status!r}); '
                                 'screenshot: /tmp/smvl-web-failure.png')
        time.sleep(0.2)


def open_page(driver, url: str, dtype: str, seconds: float = 600, **params) -> dict:
    """Open the page on /model with `dtype` and wait for the load; the page's state (loadSeconds, error)."""
    from selenium.webdriver.common.by import By
    query = '&'.join(f'{k}={v}' for k, v in {'model': '/model', 'dtype': dtype, **params}.items())
    driver.get(f'{url}/web/index.html?{query}')
    if wait_state(driver, 'status', seconds) != 'ready':
        return {'error': driver.find_element(By.ID, 'status').text}
    return driver.execute_script('return {loadSeconds: smvl.loadSeconds}')


def ask_page(driver, image: Path, question: str, seconds: float = 600) -> dict:
    """Upload `image`, type `question`, press 提问; the page's result (tokens, text, shown, boxes, timings) or error."""
    from selenium.webdriver.common.by import By
    driver.find_element(By.ID, 'image').send_keys(str(image))
    box = driver.find_element(By.ID, 'question')
    box.clear()
    box.send_keys(question)
    driver.find_element(By.ID, 'ask').click()
    if wait_state(driver, 'answer', seconds) != 'done':
        return {'error': driver.find_element(By.ID, 'status').text}
    return driver.execute_script('return smvl.result')
