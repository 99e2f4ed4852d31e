"""llama.cpp's own converter and quantizer, reached through llama-cpp-python (no copy of their code in this repo).

The converter (convert_hf_to_gguf.py, its conversion/ package and gguf-py) ships in llama-cpp-python's source
distribution, which `make venv` keeps in .venv/src next to the wheel it built. It is unpacked on first use into
.venv/llama.cpp-VERSION, VERSION being the installed llama_cpp's, so the converter, gguf-py and the runtime are one
llama.cpp commit. LLAMA_CPP_DIR names another llama.cpp checkout instead. The quantizer is llama.cpp's
llama_model_quantize, through llama-cpp-python's ctypes API.
"""
import os
import subprocess
import sys
import tarfile
from pathlib import Path

CONVERTER = 'convert_hf_to_gguf.py'
# the parts of the source distribution the converter needs
SDIST_PARTS = ('convert_hf_to_gguf.py', 'conversion/', 'gguf-py/')
QUANT_TYPES = ('f16', 'q8_0', 'q4_k_m')  # f16 comes from the converter, the others from the quantizer


class LlamaCppError(RuntimeError):
    """llama.cpp's converter or quantizer is missing or failed; the message says which and why."""


def installed_version() -> str:
    try:
        import llama_cpp
    except ImportError as e:
        raise LlamaCppError(f'llama-cpp-python is not installed ({e}); `make venv` installs the pinned version') from e
    return llama_cpp.__version__


def source_dir() -> Path:
    """A llama.cpp folder holding convert_hf_to_gguf.py: LLAMA_CPP_DIR, else the installed version's sdist, unpacked."""
    if os.environ.get('LLAMA_CPP_DIR'):
        folder = Path(os.environ['LLAMA_CPP_DIR'])
        if not (folder / CONVERTER).is_file():
            raise LlamaCppError(f'LLAMA_CPP_DIR={folder} has no {CONVERTER}')
        return folder
    version = installed_version()
    folder = Path(sys.prefix) / f'llama.cpp-{version}'
    if (folder / CONVERTER).is_file():
        return folder
    sdist = Path(sys.prefix) / 'src' / f'llama_cpp_python-{version}.tar.gz'
    if not sdist.is_file():
        raise LlamaCppError(f'llama.cpp\'s converter is not unpacked and {sdist} is missing: `make venv` downloads it '
                            f'(or: pip download --no-deps --no-binary llama-cpp-python llama-cpp-python=={version} '
                            f'-d {sdist.parent}); or set LLAMA_CPP_DIR to a llama.cpp checkout')
    unpack(sdist, folder)
    return folder


def unpack(sdist: Path, folder: Path) -> None:
    """The converter's files from the sdist's vendor/llama.cpp into FOLDER, renamed into place when complete."""
    from qwen3_smvl.atomic import atomic_folder
    with tarfile.open(sdist) as tar, atomic_folder(folder) as tmp:
        for member in tar.getmembers():
            parts = member.name.split('/vendor/llama.cpp/', 1)
            if len(parts) == 2 and parts[1].startswith(SDIST_PARTS) and (member.isfile() or member.isdir()):
                member.name = parts[1]
                tar.extract(member, tmp, filter='data')


def convert(folder: Path, outfile: Path, outtype: str = 'f16', mmproj: bool = False) -> None:
    """llama.cpp's convert_hf_to_gguf.py on FOLDER, with this interpreter (torch, transformers and safetensors)."""
    args = [sys.executable, str(source_dir() / CONVERTER), str(folder), '--outfile', str(outfile),
            '--outtype', outtype, *(['--mmproj'] if mmproj else [])]
    res = subprocess.run(args, capture_output=True, text=True, check=False)
    if res.returncode != 0 or not Path(outfile).is_file():
        tail = '\n'.join((res.stdout + res.stderr).strip().splitlines()[-15:])
        raise LlamaCppError(f'llama.cpp\'s converter failed on {folder} (exit {res.returncode}):\n{tail}')


def quantize(source: Path, target: Path, quant_type: str, threads: int = 0) -> None:
    """llama.cpp's llama_model_quantize of an f16 GGUF to q8_0 or q4_k_m."""
    import llama_cpp
    ftype = {'q8_0': llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0, 'q4_k_m': llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M}[quant_type]
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype, params.nthread = ftype, threads
    if llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), params) != 0:
        raise LlamaCppError(f'llama_model_quantize failed: {source} -> {target} ({quant_type})')


def show_in_text(gguf_file: Path, token_ids) -> None:
    """Mark TOKEN_IDS user-defined in a GGUF's vocabulary, in place: llama.cpp leaves control tokens out of the text it
    returns (llama-server's content, ollama's reply), and its converter makes every `<|...|>` token one."""
    sys.path.insert(0, str(source_dir() / 'gguf-py'))
    try:
        from gguf import GGUFReader, TokenType
    finally:
        sys.path.pop(0)
    reader = GGUFReader(gguf_file, 'r+')
    field = reader.fields['tokenizer.ggml.token_type']
    for i in token_ids:
        field.parts[field.data[i]][0] = TokenType.USER_DEFINED
    reader.data.flush()
