"""`swift export --merge_lora`, written atomically: into a hidden sibling, checked to load and see, then renamed."""
import subprocess
from pathlib import Path

from .. import REPO
from ..atomic import atomic_folder
from ..splice.check import run_self_check


def merge_lora(adapters: Path, out: Path) -> dict:
    """Merge a LoRA/DoRA checkpoint into a standalone one at OUT; OUT appears only once it loads and sees."""
    with atomic_folder(out) as tmp:
        tmp.rmdir()  # swift export refuses an existing output_dir
        subprocess.run(['swift', 'export', '--external_plugins', str(REPO / 'plugin' / 'register.py'),
                        '--adapters', str(adapters), '--merge_lora', 'true', '--output_dir', str(tmp)], check=True)
        return run_self_check(tmp)
