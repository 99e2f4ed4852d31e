"""Start recipes/deploy.sh on a free local port, wait until it answers, and stop it by its PID in every outcome."""
import contextlib
import os
import random
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Iterator

from .. import REPO

EPHEMERAL_RANGE = Path('/proc/sys/net/ipv4/ip_local_port_range')
SERVER_PIDS = {}  # base URL -> PID of the deploy.sh process serving it, while it serves


def ephemeral_port_start() -> int:
    """The first port the kernel hands out for bind(0) and connect() (Linux's default where it does not say)."""
    return int(EPHEMERAL_RANGE.read_text().split()[0]) if EPHEMERAL_RANGE.exists() else 32768


def free_port() -> int:
    """A free local port below the kernel's ephemeral range, where no other process's bind(0) or connect() lands
    while our server loads (vLLM's engine binds ports of its own before swift's HTTP server binds this one)."""
    ephemeral_start = ephemeral_port_start()
    below = range(max(1024, ephemeral_start - 10000), ephemeral_start)
    for port in random.SystemRandom().sample(below, min(100, len(below))):
        with socket.socket() as s:
            try:
                s.bind(('127.0.0.1', port))
                return port
            except OSError:
                continue  # taken
    with socket.socket() as s:  # no free port below the range: any free one
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(model_dir, log_file, timeout: float = 600, **env) -> Iterator[str]:
    """Yield the base URL (http://127.0.0.1:PORT/v1) of `swift deploy` serving model_dir."""
    port = free_port()
    env = {**os.environ, 'MODEL': str(model_dir), 'BACKEND': 'transformers', 'HOST': '127.0.0.1',
           'PORT': str(port), **{k: str(v) for k, v in env.items()}}
    with open(log_file, 'w') as log:
        server = subprocess.Popen(['bash', str(REPO / 'recipes' / 'deploy.sh')], cwd=REPO, env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        try:
            base = f'http://127.0.0.1:{port}/v1'
            wait_until_answering(server, base + '/models', 'swift deploy', log_file, timeout)
            SERVER_PIDS[base] = server.pid
            yield base
        finally:
            SERVER_PIDS.pop(f'http://127.0.0.1:{port}/v1', None)
            stop(server)


def wait_until_answering(server: subprocess.Popen, url: str, name: str, log_file, timeout: float) -> None:
    """Poll URL until the server answers; raise if it exits first or TIMEOUT seconds pass (its log names why)."""
    deadline = time.time() + timeout
    while True:
        if server.poll() is not None:
            raise RuntimeError(f'{name} exited ({server.returncode}); the end of {log_file}:\n{log_tail(log_file)}')
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if time.time() > deadline:
                raise TimeoutError(f'{name} did not answer at {url} after {timeout}s; see {log_file}')
            time.sleep(1)


def log_tail(log_file, lines: int = 25) -> str:
    return '\n'.join(Path(log_file).read_text(errors='replace').splitlines()[-lines:])


def stop(server: subprocess.Popen) -> None:
    """SIGTERM the server's whole process group (swift starts workers), SIGKILL what is left after 30 s."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    except ProcessLookupError:
        pass  # already gone
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
