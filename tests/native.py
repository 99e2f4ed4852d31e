"""Native runtimes (llama.cpp, onnxruntime) driven in a forked child, so that a crash in one fails one test.

A segfault or an illegal instruction in C++ (llama.cpp's AMX kernel on some Intel Xeons, docs/gguf.md) kills the
process it runs in; run in the pytest process, it would end the whole suite. `in_child(fn)` forks, runs FN there
with the child's stdout and stderr in a file, and hands back FN's (picklable) result; a child that dies by a signal
fails the calling test with the signal's name and the last lines the child printed, and the suite goes on.
torch's OpenMP pool does not survive a fork (a parallel op in the child waits forever for the parent's threads),
so torch runs on one thread in the child: keep transformers' side in the parent and the runtime in the child.
"""
import faulthandler
import os
import pickle
import signal
import sys
import tempfile
import time
import traceback

import pytest

TAIL_LINES = 30
FRAMES = 8  # of faulthandler's dump: the error, the thread, the innermost Python frames


def in_child(fn, *, what: str = 'the native runtime', timeout: float = 900, tries: int = 2):
    """FN() run in a forked child; its result, or a test failure naming the signal that killed the child. A child
    that hangs is forked again, up to TRIES in all: a fork from the many-threaded pytest process can copy a lock that
    another thread held (one onnxruntime child in a full suite waited 900 s; the same test alone passes in 30 s)."""
    for attempt in range(1, tries + 1):
        status, printed, fault, data = run_forked(fn, timeout)
        sys.stdout.write(printed)  # pytest shows it with the test's other output
        tail = '\n'.join(printed.splitlines()[-TAIL_LINES:])
        if status is not None:
            break
        print(f'{what}: try {attempt} of {tries} ran past {timeout:.0f} s in a child process (killed)')
    if status is None:
        pytest.fail(f'{what} ran past {timeout:.0f} s in a child process, {tries} times (killed); its last lines:\n'
                    f'{tail}')
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        where = '\n'.join(fault.splitlines()[:FRAMES])
        pytest.fail(f'{what} crashed with {name} in a child process (the suite goes on)\n{where}\n'
                    f'its last lines:\n{tail}')
    if not data:
        pytest.fail(f'{what} exited with {os.WEXITSTATUS(status)} and no result; its last lines:\n{tail}')
    ok, value = pickle.loads(data)
    if not ok:
        raise value
    return value


def run_forked(fn, timeout: float):
    """FN() in a forked child: its wait status (None: killed after TIMEOUT), what it printed, where a signal struck
    it (faulthandler's dump) and its pickled (ok, value)."""
    with tempfile.TemporaryFile() as result, tempfile.TemporaryFile() as log, tempfile.TemporaryFile() as fault:
        sys.stdout.flush(), sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            code = 1
            try:
                os.dup2(log.fileno(), 1), os.dup2(log.fileno(), 2)  # C++'s prints
                sys.stdout = sys.stderr = open(log.fileno(), 'w', buffering=1, closefd=False)  # Python's
                faulthandler.enable(fault, all_threads=False)  # where in Python a signal struck
                if 'torch' in sys.modules:  # processors resize with torch: one thread, not the parent's lost pool
                    sys.modules['torch'].set_num_threads(1)
                try:
                    value = (True, fn())
                except BaseException as e:  # the test's own failure (an assert, an error): re-raised in the parent
                    traceback.print_exc()
                    value = (False, e if picklable(e) else RuntimeError(f'{type(e).__name__}: {e}'))
                result.write(pickle.dumps(value))
                result.flush()
                code = 0
            finally:
                sys.stdout.flush()
                os._exit(code)
        status = wait(pid, timeout)
        result.seek(0)
        return status, read(log), read(fault), result.read()


def read(file) -> str:
    file.seek(0)
    return file.read().decode(errors='replace')


def picklable(value) -> bool:
    try:
        pickle.dumps(value)
        return True
    except Exception:
        return False


def wait(pid: int, timeout: float):
    """The child's wait status, or None after killing it at TIMEOUT."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.05)
