"""Peak memory and time of the splice at the real dimensions (SigLIP-base + Qwen3-0.6B, random weights).

Runs, each in a fresh process so that peak RSS is its own:
  ours      tools/build_model.py (streams tensors from the donors' safetensors into shards), self-check included
  ours-write  the same with --no-self-check: the splice and write alone
  baseline  the seed article's way: both donors loaded whole with from_pretrained, modules swapped, save_pretrained
and prints peak RSS / output size on disk (target for ours-write: <= 1.5) and the ratio ours / baseline.

  python bench/build_memory.py [--donors DIR] [--work DIR]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

BASELINE = r'''
import sys, torch
from transformers import AutoModelForCausalLM, AutoModelForImageTextToText
from transformers.models.smolvlm.modeling_smolvlm import SmolVLMConnector
vision, llm, out = sys.argv[1:4]
vlm = AutoModelForImageTextToText.from_pretrained(vision, dtype=torch.bfloat16)
lm = AutoModelForCausalLM.from_pretrained(llm, dtype=torch.bfloat16)
vlm.config.text_config = lm.config
vlm.model.connector = SmolVLMConnector(vlm.config).to(torch.bfloat16)
vlm.model.text_model = lm.model
vlm.lm_head = lm.lm_head
vlm.save_pretrained(out)
'''


def run_measured(cmd) -> tuple:
    """(peak RSS bytes, seconds) of one child process."""
    t0 = time.time()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.time() - t0
    stderr = proc.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f'{cmd} failed:\n{stderr[-3000:]}')
    return usage.ru_maxrss * 1024, seconds


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob('*') if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--donors', type=Path, help='real-preset donors (made with tools/make_donors.py if absent)')
    ap.add_argument('--work', type=Path, help='scratch folder (default: a temporary one)')
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix='bench_build_'))
    donors = args.donors or work / 'donors'
    if not (donors / 'llm' / 'config.json').exists():
        print(f'making real-dimension donors in {donors} ...', flush=True)
        subprocess.run([sys.executable, 'tools/make_donors.py', '--preset', 'real', '--out', str(donors)], cwd=REPO,
                       check=True, stderr=subprocess.DEVNULL)
    rows = []
    for name, cmd in [
        ('ours-write', ['tools/build_model.py', '--no-self-check']),
        ('ours', ['tools/build_model.py']),
    ]:
        out = work / name
        shutil.rmtree(out, ignore_errors=True)
        print(f'{name} ...', flush=True)
        rss, secs = run_measured([sys.executable, *cmd, '--vision', str(donors / 'vision'), '--llm',
                                  str(donors / 'llm'), '--out', str(out)])
        rows.append((name, rss, secs, dir_size(out)))
    out = work / 'baseline'
    shutil.rmtree(out, ignore_errors=True)
    print('baseline ...', flush=True)
    rss, secs = run_measured([sys.executable, '-c', BASELINE, str(donors / 'vision'), str(donors / 'llm'), str(out)])
    rows.append(('baseline', rss, secs, dir_size(out)))

    gib = 2**30
    print(f'\n{"run":<12}{"peak RSS GiB":>14}{"output GiB":>12}{"RSS/output":>12}{"seconds":>10}')
    for name, rss, secs, size in rows:
        print(f'{name:<12}{rss / gib:>14.2f}{size / gib:>12.2f}{rss / size:>12.2f}{secs:>10.1f}')
    ours_write, ours, base = rows
    print(f'\nours-write peak RSS / output size: {ours_write[1] / ours_write[3]:.2f} (target <= 1.5)')
    print(f'peak RSS ratio ours-write / baseline: {ours_write[1] / base[1]:.2f}; ours (with self-check) / baseline: '
          f'{ours[1] / base[1]:.2f}')
    print(f'time ratio ours-write / baseline: {ours_write[2] / base[2]:.2f}')
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
