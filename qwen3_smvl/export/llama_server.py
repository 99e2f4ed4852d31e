"""llama.cpp's own OpenAI server (llama-server, built by `make venv` into .venv/bin) on an exported GGUF folder.

The flags a user passes for the served model's answers: the GGUF's chat template (--jinja, Qwen3's), thinking off
by default as `recipes/deploy.sh` serves (a request's chat_template_kwargs turns it on), and no weight repacking on
a CPU with AMX (--no-repack: ggml's AMX kernel crashes there when llama.cpp is compiled with -march=native;
docs/gguf.md). `llama_server(folder)` starts it on a free local port and stops it in every outcome.
"""
import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List, Optional

from qwen3_smvl.export.gguf import file_names
from qwen3_smvl.serve.deploy import free_port, stop, wait_until_answering


def executable() -> str:
    """llama-server beside this interpreter (make venv links it there), else on PATH; None if neither."""
    here = Path(sys.executable).parent / 'llama-server'
    return str(here) if here.exists() else shutil.which('llama-server')


def cpu_has_amx() -> bool:
    try:
        return 'amx_tile' in Path('/proc/cpuinfo').read_text()
    except OSError:
        return False


def server_args(folder, quant_type: str = 'f16', name: str = 'qwen3-smvl', threads: int = 0,
                repack: Optional[bool] = None) -> List[str]:
    """llama-server's model and chat flags for an export folder (no host or port); REPACK None: off where AMX is."""
    names = file_names(name, quant_type)
    folder = Path(folder)
    repack = not cpu_has_amx() if repack is None else repack
    return ['-m', str(folder / names['model']), '--mmproj', str(folder / names['mmproj']), '--jinja',
            '--chat-template-kwargs', json.dumps({'enable_thinking': False}),
            '--threads', str(threads or os.cpu_count()), *([] if repack else ['--no-repack'])]


@contextlib.contextmanager
def llama_server(folder, log_file, quant_type: str = 'f16', timeout: float = 300, **kwargs) -> Iterator[str]:
    """Yield the base URL (http://127.0.0.1:PORT/v1) of llama-server serving an exported folder."""
    program = executable()
    if program is None:
        raise FileNotFoundError('llama-server is not built: `make venv` compiles it (tools/build_llama_cpp.sh)')
    port = free_port()
    with open(log_file, 'w') as log:
        server = subprocess.Popen([program, *server_args(folder, quant_type, **kwargs), '--host', '127.0.0.1',
                                   '--port', str(port)], stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        try:
            wait_until_answering(server, f'http://127.0.0.1:{port}/health', 'llama-server', log_file, timeout)
            yield f'http://127.0.0.1:{port}/v1'
        finally:
            stop(server)
