"""The package's layout rule: a stage imports only earlier stages and the shared modules, and nothing imports an old path."""
import ast
import importlib
import subprocess
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / 'qwen3_smvl'
STAGES = ['splice', 'datasets', 'train', 'rl', 'serve', 'evaluate', 'export']  # the order a user walks through


def rank(module: str) -> int:
    """-1 for the shared top-level modules, else the stage's position."""
    parts = module.split('.')
    return STAGES.index(parts[1]) if len(parts) > 2 and parts[1] in STAGES else -1


def package_imports(path: Path) -> set:
    """The qwen3_smvl modules a file imports, relative imports resolved."""
    module = '.'.join(path.relative_to(REPO).with_suffix('').parts)
    package = module.rsplit('.', 1)[0] if path.name != '__init__.py' else module.removesuffix('.__init__')
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                base = '.'.join(package.split('.')[:len(package.split('.')) - node.level + 1] + ([base] if base else []))
            if base.startswith('qwen3_smvl'):
                found.update(f'{base}.{a.name}' if (PACKAGE.joinpath(*base.split('.')[1:], a.name + '.py')).exists()
                             else base for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith('qwen3_smvl'))
    return found


def test_stages_import_only_earlier_stages():
    wrong = []
    for path in PACKAGE.rglob('*.py'):
        module = '.'.join(path.relative_to(REPO).with_suffix('').parts)
        for imported in package_imports(path):
            if rank(imported) > rank(module) or (rank(module) == -1 and rank(imported) >= 0):
                wrong.append(f'{module} imports {imported}')
    assert not wrong, wrong


def test_every_module_belongs_to_a_stage_or_is_shared():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name not in ('data', '__pycache__')}
    assert folders == set(STAGES)
    assert all((PACKAGE / stage / '__init__.py').is_file() for stage in STAGES)


def resolves(mention: str) -> bool:
    """`qwen3_smvl/serve/app.py` is a file or folder; `qwen3_smvl.serve.deploy.served` walks folders to a module."""
    if '/' in mention:
        return (REPO / mention).exists()
    here = REPO
    for part in mention.split('.'):
        if not here.is_dir():
            return True  # past a module: an attribute
        here = here / part if (here / part).is_dir() else here / f'{part}.py'
        if not here.exists():
            return False
    return True


def test_every_mention_of_a_module_path_resolves():
    """README, docs, recipes, tools, tests: no `qwen3_smvl.X` or `qwen3_smvl/X` names a module that is not there."""
    out = subprocess.run(['git', 'grep', '-ohE', r'qwen3_smvl[./][A-Za-z0-9_./]*[A-Za-z0-9_]', '--', '.',
                          ':!tests/test_layout.py'], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    mentions = set(out.split())
    assert len(mentions) > 20
    assert [m for m in sorted(mentions) if not resolves(m)] == []


def test_every_module_imports():
    """Catches `from qwen3_smvl.serve import served` (an old module's name) that the path checks cannot see."""
    skip = {'qwen3_smvl.serve.vllm_model'}  # vLLM lives in .venv-vllm: tests/test_vllm.py imports it there
    modules = ['.'.join(p.relative_to(REPO).with_suffix('').parts).removesuffix('.__init__')
               for p in PACKAGE.rglob('*.py')]
    assert len(modules) > 30
    for module in sorted(set(modules) - skip):
        importlib.import_module(module)


def test_no_source_folder_has_a_name_that_tools_treat_as_output():
    """`build/`, `dist/`, `out/` ... are ignored by standard .gitignore templates, packagers and code indexes at any
    depth: a source folder so named silently drops out of a fork or a search."""
    output_names = {'build', 'dist', 'out', 'output', 'outputs', 'tmp', 'temp', 'cache', 'target'}
    tracked = subprocess.run(['git', 'ls-files'], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    folders = {part for path in tracked for part in Path(path).parent.parts}
    assert 'qwen3_smvl' in folders and 'splice' in folders
    assert folders & output_names == set()


def test_every_tracked_python_file_compiles():
    """bench/ and tools/ scripts no test imports: a syntax error there would otherwise ship unnoticed."""
    tracked = subprocess.run(['git', 'ls-files', '*.py'], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    assert any(p.startswith('bench/') for p in tracked) and any(p.startswith('tools/') for p in tracked)
    broken = []
    for path in tracked:
        try:
            compile((REPO / path).read_text(), path, 'exec')
        except SyntaxError as e:
            broken.append(f'{path}:{e.lineno}: {e.msg}')
    assert broken == []
