"""transformers.js (web/) on the real-dimension random splice (SigLIP-base + Qwen3-0.6B), int8 and fp32: load time,
first-token time and decode tokens/s in Node and in headless Chromium (WASM), beside onnxruntime in Python, in one run;
peak memory of each.

  python bench/web_latency.py [--work DIR] [--new-tokens 16] [--dtypes int8 fp32]

The picture and question of bench/onnx_latency.py (512x512: one tile, 64 image tokens), --new-tokens greedy tokens with
the end of turn held back (the weights are random). Load: the three onnxruntime sessions and the processor (Python);
web/smvl.mjs' loadSplice after Node has imported transformers.js (Node); the page's load, files fetched from a local
static server (Chromium). First token: from the picture to the first answer token (preprocessing, vision, prefill).
Peak memory, sampled every 0.1 s: Python, a child process that imports onnxruntime, transformers and torch (about
0.8 GiB before any model); Node, its process; Chromium, the sum over its processes (which
counts shared pages more than once) and its largest process (the page's renderer), and the page's JS heap
(performance.memory, which leaves WebAssembly memory out). Needs web/node_modules (make web-deps), chromium and
chromedriver.
"""
import argparse
import json
import multiprocessing
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psutil

from onnx_latency import QUESTION, bench_picture, export_real_splice, onnx_latency  # bench/ is on the path
from qwen3_smvl.export.onnx_runtime import OnnxVLM
from qwen3_smvl.export.web_page import NODE, WEB, ask_page, chromium, open_page, static_site

GiB = 2**30


class PeakRSS:
    """The largest total and largest single RSS of `processes()` while the block runs, sampled every 0.1 s."""

    def __init__(self, processes):
        self.processes, self.total, self.single = processes, 0, 0
        self.done = threading.Event()

    def sample(self) -> None:
        while not self.done.wait(0.1):
            sizes = []
            for process in self.processes():
                try:
                    sizes.append(process.memory_info().rss)
                except psutil.Error:
                    pass  # gone between the listing and the read
            self.total, self.single = max(self.total, sum(sizes)), max(self.single, max(sizes, default=0))

    def __enter__(self):
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()


def python_latency(folder: Path, dtype: str, new_tokens: int, results) -> None:
    """In a child process, so that its memory is its own: load time, first token, decode tokens/s."""
    start = time.perf_counter()
    runner = OnnxVLM(folder, None if dtype == 'fp32' else dtype)
    load = time.perf_counter() - start
    results.put((load, *onnx_latency(runner, bench_picture(), new_tokens)))


def python_row(folder: Path, dtype: str, new_tokens: int) -> dict:
    context = multiprocessing.get_context('spawn')
    results = context.Queue()
    child = context.Process(target=python_latency, args=(folder, dtype, new_tokens, results))
    child.start()
    process = psutil.Process(child.pid)
    with PeakRSS(lambda: [process] if child.is_alive() else []) as peak:
        while True:
            try:
                load, first, speed = results.get(timeout=1)
                break
            except queue.Empty:
                if not child.is_alive():
                    return {'error': f'the Python process exited {child.exitcode}'}
        child.join()
    return {'load': load, 'first': first, 'speed': speed, 'memory': f'{peak.single / GiB:.2f} GiB (process)'}


def node_row(folder: Path, image: Path, dtype: str, new_tokens: int) -> dict:
    tokens = str(new_tokens + 1)  # the first token and new_tokens decode steps, as onnx_latency counts them
    node = subprocess.Popen([NODE, str(WEB / 'ask.mjs'), str(folder), str(image), QUESTION, '--json', '--dtype', dtype,
                             '--max-new-tokens', tokens, '--min-new-tokens', tokens],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process = psutil.Process(node.pid)
    with PeakRSS(lambda: [process] if node.poll() is None else []) as peak:
        out, err = node.communicate(timeout=1800)
    if node.returncode != 0:
        return {'error': err.strip().splitlines()[-1] if err.strip() else f'exit {node.returncode}'}
    result = json.loads(out.strip().splitlines()[-1])
    return {'load': result['seconds']['load'], 'first': result['seconds']['firstToken'],
            'speed': result['tokensPerSecond'], 'memory': f'{peak.single / GiB:.2f} GiB (process)'}


def browser_processes(driver):
    def listing():
        try:
            return psutil.Process(driver.service.process.pid).children(recursive=True)
        except psutil.Error:
            return []
    return listing


def chromium_row(folder: Path, image: Path, dtype: str, new_tokens: int, work: Path) -> dict:
    tokens = new_tokens + 1
    with static_site(folder, work) as url, chromium() as driver, PeakRSS(browser_processes(driver)) as peak:
        try:
            loaded = open_page(driver, url, dtype, seconds=900, max_new_tokens=tokens, min_new_tokens=tokens)
        except AssertionError as e:  # still loading after the wait
            loaded = {'error': str(e)}
        if 'error' in loaded:
            return {'error': loaded['error'], 'memory': f'{peak.total / GiB:.2f} GiB (all processes)'}
        result = ask_page(driver, image, QUESTION, seconds=900)
        heap = driver.execute_script('return performance.memory && performance.memory.usedJSHeapSize')
        threads = driver.execute_script('return smvl.threads')
        version = driver.capabilities.get('browserVersion')
    if 'error' in result:
        return {'error': result['error']}
    return {'load': loaded['loadSeconds'], 'first': result['seconds']['firstToken'],
            'speed': result['tokensPerSecond'], 'threads': threads, 'version': version,
            'memory': f'{peak.total / GiB:.2f} GiB (all processes), {peak.single / GiB:.2f} GiB (largest), '
                      f'JS heap {heap / GiB:.2f} GiB' if heap else f'{peak.total / GiB:.2f} GiB (all processes)'}


def versions() -> str:
    def package(name):
        return json.loads((WEB / 'node_modules' / name / 'package.json').read_text())['version']
    import onnxruntime
    node = subprocess.run([NODE, '--version'], capture_output=True, text=True).stdout.strip()
    return (f'Node {node}, @huggingface/transformers {package("@huggingface/transformers")}, onnxruntime-node '
            f'{package("onnxruntime-node")}, onnxruntime-web {package("onnxruntime-web")}; Python onnxruntime '
            f'{onnxruntime.__version__}; CPU threads {psutil.cpu_count()}')


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--work', type=Path, help='scratch folder (default: a temporary one, removed after)')
    ap.add_argument('--new-tokens', type=int, default=16)
    ap.add_argument('--dtypes', nargs='+', default=['int8', 'fp32'], choices=['int8', 'fp32'])
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix='smvl-bench-web-'))
    try:
        if not (work / 'onnx' / 'smvl_app.json').exists():
            export_real_splice(work, [d for d in args.dtypes if d != 'fp32'])
        image = work / 'picture.png'
        bench_picture().save(image)
        rows = []
        for dtype in args.dtypes:
            site = work / f'site-{dtype}'
            shutil.rmtree(site, ignore_errors=True)
            site.mkdir()
            for name, measure, arguments in (
                    ('onnxruntime (Python)', python_row, (work / 'onnx', dtype, args.new_tokens)),
                    ('transformers.js (Node)', node_row, (work / 'onnx', image, dtype, args.new_tokens)),
                    ('transformers.js (Chromium, WASM)', chromium_row,
                     (work / 'onnx', image, dtype, args.new_tokens, site))):
                rows.append((name, dtype, measure(*arguments)))
                print(f'{name} {dtype}: {rows[-1][2]}', flush=True)
        print(versions())
        print(f'{"runtime":<34}{"dtype":<7}{"load":>9}{"first token":>13}{"decode":>13}{"vs Python":>11}  peak memory')
        for name, dtype, row in rows:
            base = next(r for n, d, r in rows if d == dtype and n.startswith('onnxruntime'))
            if 'error' in row:
                print(f'{name:<34}{dtype:<7}  failed: {row["error"]}  {row.get("memory", "")}')
                continue
            ratio = f'{row["speed"] / base["speed"]:.2f}x' if row['speed'] and base.get('speed') else '-'
            print(f'{name:<34}{dtype:<7}{row["load"]:>7.1f} s{row["first"]:>11.2f} s{row["speed"]:>7.1f} tok/s'
                  f'{ratio:>11}  {row["memory"]}')
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
