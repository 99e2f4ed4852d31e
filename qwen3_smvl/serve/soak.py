"""A bounded soak of a served endpoint: N requests at concurrency C, good and bad mixed, and the server's memory.

Every fourth request is bad in one of four ways (not an image, truncated base64, too many images, a prompt over the
context). Reports how many good requests were answered, how the bad ones were refused, and the resident memory of the
server's process tree after a warm-up and after the run.
"""
import base64
import time
from concurrent.futures import ThreadPoolExecutor

import psutil

from ..client import answered, chat, data_url, post


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (swift deploy starts workers, vLLM an engine process)."""
    root = psutil.Process(pid)
    total = 0
    for p in [root, *root.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def requests_mix(n: int, max_images: int) -> list:
    good = data_url(40, 30)
    bad = [chat(['data:image/png;base64,' + base64.b64encode(b'not a png').decode()]), chat([good[:-7]]),
           chat([good] * (max_images + 1)), chat([good], text='很长' * 5000)]
    return [(False, bad[(i // 4) % len(bad)]) if i % 4 == 3 else (True, chat([good])) for i in range(n)]


def soak(base: str, server_pid: int, n: int = 300, concurrency: int = 16, max_images: int = 2) -> dict:
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: post(base, chat([data_url(40, 30)])), range(concurrency)))  # warm-up
        rss_warm = tree_rss(server_pid)
        work = requests_mix(n, max_images)
        t0 = time.perf_counter()
        replies = list(pool.map(lambda w: post(base, w[1]), work))
        seconds = time.perf_counter() - t0
    rss_after = tree_rss(server_pid)
    statuses = [s for s, _ in replies]
    good_answered = sum(1 for (ok, _), (s, t) in zip(work, replies) if ok and s == 200 and answered(t))
    return {'requests': n, 'concurrency': concurrency, 'good': sum(ok for ok, _ in work), 'good_answered': good_answered,
            'bad': sum(not ok for ok, _ in work),
            'bad_4xx': sum(1 for (ok, _), s in zip(work, statuses) if not ok and 400 <= s < 500),
            'status_5xx': sum(1 for s in statuses if s >= 500), 'seconds': seconds,
            'rss_after_warmup_mib': rss_warm / 2**20, 'rss_after_mib': rss_after / 2**20,
            'rss_ratio': rss_after / rss_warm}
