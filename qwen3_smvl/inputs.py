"""Refuse a mistyped path or an unreachable hub in one line, before swift starts (and waits on hub time-outs).

  python -m qwen3_smvl.inputs --model MODEL --dataset D1 [D2 ...]     (recipes/common.sh runs this first)

A name that looks local (starts with ./ ../ / ~, has a data-file suffix, has two or more slashes, or its first folder
exists here) and does not exist is "not found". An OWNER/NAME is a hub id: its hub must answer within a few seconds,
or the user is told where to download it instead. A bare name is left to swift (a dataset registered by name).
"""
import argparse
import os
import socket
import sys
from urllib.parse import urlparse

DATA_SUFFIXES = ('.jsonl', '.json', '.csv', '.parquet', '.arrow', '.txt', '.tsv')
HUB_TIMEOUT_S = 5


class InputError(ValueError):
    pass


def strip_spec(spec: str) -> str:
    """swift's dataset syntax `NAME[:SUBSETS][#N]` (and the `hf::`/`ms::` hub prefixes) down to NAME."""
    for prefix in ('hf::', 'HF::', 'ms::', 'MS::'):
        spec = spec.removeprefix(prefix)
    spec = spec.split('#')[0]
    return spec if os.path.exists(spec) else spec.split(':')[0]


def looks_local(name: str) -> bool:
    if name.startswith(('./', '../', '/', '~')) or name.lower().endswith(DATA_SUFFIXES) or name.count('/') > 1:
        return True
    return '/' in name and os.path.isdir(name.split('/')[0])


def hub_of(spec: str) -> str:
    if spec.lower().startswith('hf::'):
        return 'hf'
    if spec.lower().startswith('ms::'):
        return 'modelscope'
    return 'hf' if os.environ.get('USE_HF', '0').lower() in ('1', 'true') else 'modelscope'


def hub_endpoint(hub: str) -> str:
    if hub == 'hf':
        return os.environ.get('HF_ENDPOINT', 'https://huggingface.co')
    return os.environ.get('MODELSCOPE_DOMAIN', 'https://www.modelscope.cn')


def hub_reachable(hub: str) -> bool:
    if hub == 'hf' and os.environ.get('HF_HUB_OFFLINE', '0').lower() in ('1', 'true'):
        return False
    endpoint = hub_endpoint(hub)
    url = urlparse(endpoint if '://' in endpoint else f'https://{endpoint}')
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=HUB_TIMEOUT_S).close()
        return True
    except OSError:
        return False


def hub_name(hub: str) -> str:
    return 'Hugging Face' if hub == 'hf' else 'ModelScope'


def cache_dir(hub: str) -> str:
    """Where the hub's client puts downloads by id (its own environment variable first)."""
    if hub == 'hf':
        return os.path.join(os.environ.get('HF_HOME', '~/.cache/huggingface'), 'hub')
    return os.environ.get('MODELSCOPE_CACHE', '~/.cache/modelscope/hub')


def download_command(name: str, hub: str, kind: str) -> str:
    dataset = kind.lower() == 'dataset'
    if hub == 'hf':
        return f'hf download {"--repo-type dataset " if dataset else ""}{name} --local-dir DIR'
    return f'modelscope download {"--dataset" if dataset else "--model"} {name} --local_dir DIR'


def offline_advice(name: str, hub: str, kind: str, other: str) -> str:
    return (f'{name}: {hub_name(hub)} ({hub_endpoint(hub)}) is not reachable from here. Pass a local folder instead '
            f'(on a networked machine: `{download_command(name, hub, kind)}`), or try {other}.')


def check(spec: str, kind: str, reachable: dict) -> None:
    """Raise InputError for a local-looking name that does not exist, or a hub id whose hub does not answer."""
    name = strip_spec(spec)
    if os.path.exists(os.path.expanduser(name)):
        return
    if looks_local(name):
        raise InputError(f'{kind} not found: {name}')
    if '/' not in name:
        return  # a name registered with swift (its dataset_info), not a hub id
    hub = hub_of(spec)
    if hub not in reachable:
        reachable[hub] = hub_reachable(hub)
    if not reachable[hub]:
        other = 'ModelScope (USE_HF=0)' if hub == 'hf' else 'Hugging Face (USE_HF=1)'
        raise InputError(offline_advice(name, hub, kind, other))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', action='append', default=[])
    ap.add_argument('--dataset', nargs='*', default=[])
    args = ap.parse_args(argv)
    reachable, errors = {}, []
    for kind, specs in (('MODEL', args.model), ('DATASET', args.dataset)):
        for spec in specs:
            try:
                check(spec, kind, reachable)
            except InputError as e:
                errors.append(f'error: {e}')
    print('\n'.join(errors), file=sys.stderr, end='\n' if errors else '')
    return 2 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
