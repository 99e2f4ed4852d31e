"""Folders that appear whole or not at all: write into a hidden sibling, then rename it into place."""
import contextlib
import os
import shutil
from pathlib import Path
from typing import Iterator


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def atomic_folder(out: Path) -> Iterator[Path]:
    """Yield OUT's hidden sibling .OUT.partial-PID to write into; on success it replaces OUT, on error it goes.

    A process killed inside the block leaves only the hidden folder (never OUT); the next run removes it.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f'.{out.name}.partial-*'):  # left by killed runs
        if not pid_alive(int(stale.name.rsplit('-', 1)[1])):
            shutil.rmtree(stale, ignore_errors=True)
    tmp = out.parent / f'.{out.name}.partial-{os.getpid()}'
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        if out.exists():
            trash = out.parent / f'.{out.name}.old-{os.getpid()}'
            os.replace(out, trash)
            os.replace(tmp, out)
            shutil.rmtree(trash)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
