"""One recipe run for the bench scripts: recipes/SCRIPT with their settings, and swift's log of it."""
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_recipe(script: str, out: Path, **env) -> tuple:
    """recipes/SCRIPT into OUT (emptied first) with ENV over this environment and this Python's bin first on PATH:
    the recipe's output and the rows of OUT/logging.jsonl."""
    subprocess.run(['rm', '-rf', str(out)], check=True)
    env = {**os.environ, **{k: str(v) for k, v in env.items()}, 'OUTPUT_DIR': str(out),
           'PATH': f'{Path(sys.executable).parent}:{os.environ["PATH"]}'}
    output = subprocess.run(['bash', f'recipes/{script}'], cwd=REPO, env=env, check=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True).stdout
    return output, [json.loads(line) for line in (out / 'logging.jsonl').read_text().splitlines()]
