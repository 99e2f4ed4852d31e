"""The GPU environment's pins (requirements-gpu.txt: official vLLM with the project) still resolve, to exactly the lock.

A full install (official vLLM and CUDA torch) does not fit CI's time here, so pip resolves it without installing; by
range requests (fast-deps, pip 26.3 in .venv) and uncached, since the index serves no PEP 658 metadata and downloading
the wheels took 1.5 GB of disk, which once filled CI's.
"""
import json
import subprocess
import sys

from conftest import REPO


def locked() -> dict:
    lines = (REPO / 'constraints-gpu.txt').read_text().splitlines()
    return dict(line.split('==') for line in lines if line and not line.startswith('#'))


def test_gpu_requirements_resolve_to_the_lock(tmp_path):
    report = tmp_path / 'report.json'
    res = subprocess.run([sys.executable, '-m', 'pip', 'install', '--dry-run', '--ignore-installed', '--no-cache-dir',
                          '--use-feature=fast-deps', '-q', '--report',
                          str(report), '-r', 'requirements-gpu.txt', '-c', 'constraints-gpu.txt'], cwd=REPO,
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    resolved = {i['metadata']['name'].lower().replace('_', '-'): i['metadata']['version'].split('+')[0]
                for i in json.loads(report.read_text())['install']}
    assert resolved == locked()
    assert resolved['vllm'] == '0.32.0' and resolved['torch'] == '2.13.0' and resolved['ms-swift'] == '4.6.0'
    assert resolved['transformers'] == '5.19.0' and 'deepspeed' in resolved
