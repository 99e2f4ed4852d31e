"""The splice as GGUF for llama.cpp (llama-server, llama-mtmd-cli), llama-cpp-python, ollama and LM Studio.

  NAME-TYPE.gguf       Qwen3 with its head (f16, q8_0, q4_k_m), through llama.cpp's converter as a qwen3 model
  mmproj-NAME-f16.gguf SigLIP tower and pixel-shuffle connector, through its converter as SmolVLM's (idefics3)
  Modelfile            for `ollama create`: both files, Qwen3's chat turns, the stop tokens

llama.cpp's converter reads a text model's tensors under `model.`, where the splice keeps them under
`model.text_model.`, and picks the projector's converter by the architecture SmolVLM names; so each converter gets a
staged folder: a plain Qwen3ForCausalLM written from the splice, and the splice's files under SmolVLM's architecture.
mtmd (llama.cpp's multimodal library) puts SmolVLM's strings around idefics3 images (<fake_token_around_image>,
<global-img>, <row_R_col_C>) and looks them up in the text model's vocabulary; the splice plays those roles with
Qwen's <|vision_start|> and <|vision_pad|> (qwen3_smvl/tokens.py), so in the GGUF's vocabulary, and only there, those
two tokens carry SmolVLM's strings: mtmd's prompt then holds the splice's own token ids.
"""
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Dict, List, Sequence

from qwen3_smvl.atomic import atomic_folder
from qwen3_smvl.export import llama_cpp
from qwen3_smvl.export.onnx_graphs import ExportError, check_checkpoint
from qwen3_smvl.images import upscales
from qwen3_smvl.tokens import (
    BOX_END,
    BOX_START,
    FAKE_IMAGE_TOKEN,
    GLOBAL_IMAGE_TOKEN,
    IM_END,
    IM_START,
    OBJECT_REF_END,
    OBJECT_REF_START,
    SMOLVLM_FAKE_IMAGE_TOKEN,
    SMOLVLM_GLOBAL_IMAGE_TOKEN,
    THINK_END,
    THINK_START,
    token_id,
)

logger = logging.getLogger('qwen3_smvl')
TYPES = llama_cpp.QUANT_TYPES
SMOLVLM_ARCHITECTURE = 'SmolVLMForConditionalGeneration'  # the projector converter llama.cpp registers for SmolVLM
# the splice's token for a role -> the string mtmd looks up for that role
MTMD_STRINGS = {FAKE_IMAGE_TOKEN: SMOLVLM_FAKE_IMAGE_TOKEN, GLOBAL_IMAGE_TOKEN: SMOLVLM_GLOBAL_IMAGE_TOKEN}
# text mtmd also looks up as single tokens: between rows of tiles, and before the global view
MTMD_TEXT = ('\n', '\n\n')
# Qwen's grounding tokens, which the served model's answers carry as text (swift deploy keeps them in content)
ANSWER_TOKENS = (OBJECT_REF_START, OBJECT_REF_END, BOX_START, BOX_END)


def file_names(name: str, quant_type: str) -> Dict[str, str]:
    return {'model': f'{name}-{quant_type}.gguf', 'mmproj': f'mmproj-{name}-f16.gguf'}


def check_image_policy(model_dir: Path) -> None:
    """Refuse a processor that never splits images: mtmd always makes tiles and a global view for idefics3."""
    from transformers import AutoImageProcessor
    image_processor = AutoImageProcessor.from_pretrained(model_dir)
    longest, tile = image_processor.size['longest_edge'], image_processor.max_image_size['longest_edge']
    if not image_processor.do_image_splitting or longest <= tile:
        raise ExportError(f'{model_dir}: its image processor never splits images (do_image_splitting '
                          f'{image_processor.do_image_splitting}, longest_edge {longest}, tile {tile}); llama.cpp '
                          'always tiles them, so its prompts would differ from every prompt this model was trained on')
    if not upscales():
        logger.warning('SMVL_UPSCALE=false: llama.cpp resizes every picture to the longest edge (%d) before tiling; a '
                       'model trained without that resize gets other tiles for smaller pictures there than in '
                       'training or `swift deploy` (docs/gguf.md)', longest)


def check_mtmd_text(model_dir: Path, tokenizer) -> None:
    """Refuse a vocabulary without one token for each of MTMD_TEXT (Qwen's has them; the tiny donors' BPE has no
    '\\n\\n'): mtmd would put an invalid token where the processor puts two."""
    for text in MTMD_TEXT:
        ids = tokenizer.encode(text, add_special_tokens=False)
        if len(ids) != 1:
            raise ExportError(f'{model_dir}: its tokenizer encodes {text!r} as {len(ids)} tokens; llama.cpp\'s mtmd '
                              'looks it up as one token of the vocabulary (Qwen3\'s tokenizer has one; a tiny '
                              'test vocabulary may not: tools/make_donors.py --preset tiny-vocab has Qwen3\'s)')


def renamed_tokens(tokenizer) -> Dict[int, str]:
    """Token id -> the string mtmd looks up for its role; ids read from the splice's tokenizer."""
    return {token_id(tokenizer, ours): theirs for ours, theirs in MTMD_STRINGS.items()}


def stage_text_model(model_dir: Path, out: Path, renames: Dict[int, str]) -> None:
    """A Qwen3ForCausalLM folder: the text config, the decoder and head under their Qwen3 names, the tokenizer with
    the mtmd strings, the chat template and the generation config."""
    from qwen3_smvl.splice.weights import iter_tensors, read_donor, write_shards
    config = json.loads((model_dir / 'config.json').read_text())
    text = dict(config['text_config'], architectures=['Qwen3ForCausalLM'])
    text['tie_word_embeddings'] = config.get('tie_word_embeddings', text.get('tie_word_embeddings', True))
    out.mkdir(parents=True)
    (out / 'config.json').write_text(json.dumps(text, indent=2))
    weights = read_donor(model_dir, 'splice', ('smolvlm', )).weights
    prefix = 'model.text_model.'
    sources = {'model.' + name[len(prefix):]: (file, name) for name, file in weights.items() if name.startswith(prefix)}
    if 'lm_head.weight' in weights and not text['tie_word_embeddings']:
        sources['lm_head.weight'] = (weights['lm_head.weight'], 'lm_head.weight')
    write_shards(iter_tensors(sources), out, len(sources))
    write_tokenizer(model_dir, out, renames)
    for name in ('chat_template.jinja', 'generation_config.json'):
        if (model_dir / name).is_file():
            shutil.copy(model_dir / name, out / name)


def write_tokenizer(model_dir: Path, out: Path, renames: Dict[int, str]) -> None:
    """tokenizer.json with the added tokens of RENAMES carrying their new strings (also where tokenizer_config.json
    lists them by string, or loading would add the old strings back as new tokens); the processor's keys dropped."""
    tokenizer = json.loads((model_dir / 'tokenizer.json').read_text())
    by_string = {}
    for added in tokenizer['added_tokens']:
        if added['id'] in renames:
            by_string[added['content']] = added['content'] = renames[added['id']]
    vocab = tokenizer['model']['vocab']  # the tiny donors' BPE also lists its added tokens here
    for old, new in by_string.items():
        if old in vocab:
            vocab[new] = vocab.pop(old)
    (out / 'tokenizer.json').write_text(json.dumps(tokenizer, ensure_ascii=False))
    config = json.loads((model_dir / 'tokenizer_config.json').read_text())
    for key in ('processor_class', 'model_specific_special_tokens', 'image_token', 'fake_image_token',
                'global_image_token', 'video_token', 'end_of_utterance_token', 'added_tokens_decoder'):
        config.pop(key, None)  # the text model has no processor; the id -> string map would undo the renames
    for key, value in config.items():
        if isinstance(value, list):
            config[key] = [by_string.get(item, item) if isinstance(item, str) else item for item in value]
    (out / 'tokenizer_config.json').write_text(json.dumps(config, indent=2, ensure_ascii=False))


def stage_vision_model(model_dir: Path, out: Path) -> None:
    """The splice's files (weights linked, not copied) under the architecture of llama.cpp's SmolVLM converter."""
    out.mkdir(parents=True)
    config = json.loads((model_dir / 'config.json').read_text())
    (out / 'config.json').write_text(json.dumps(dict(config, architectures=[SMOLVLM_ARCHITECTURE]), indent=2))
    for item in model_dir.iterdir():
        if item.is_file() and item.name != 'config.json':
            os.symlink(item.resolve(), out / item.name)


def check_vocabulary(model_file: Path, renames: Dict[int, str]) -> None:
    """The GGUF's vocabulary, as llama.cpp reads it, holds mtmd's strings at the splice's ids."""
    from llama_cpp import Llama
    model = Llama(str(model_file), vocab_only=True, verbose=False)
    found = {i: model._model.token_get_text(i) for i in renames}
    if found != renames:
        raise ExportError(f'{model_file}: vocabulary holds {found} at the image-role ids, expected {renames}')


def generation_config(model_dir: Path) -> dict:
    path = model_dir / 'generation_config.json'
    return json.loads(path.read_text()) if path.is_file() else {}


def stop_tokens(generation: dict, tokenizer) -> List[str]:
    """The generation config's end tokens as strings (Qwen3: <|im_end|>, <|endoftext|>), else the tokenizer's eos."""
    eos = generation.get('eos_token_id')
    ids = eos if isinstance(eos, list) else [eos] if eos is not None else [token_id(tokenizer, tokenizer.eos_token)]
    return tokenizer.convert_ids_to_tokens(ids)


def ollama_template() -> str:
    """Qwen3's chat turns in ollama's Go template language, thinking off (an empty think block), as the HF template
    renders with enable_thinking=False."""
    return (f'{{{{- range $i, $_ := .Messages }}}}\n'
            f'{{{{- $last := eq (len (slice $.Messages $i)) 1 }}}}\n'
            f'{{{{- if eq .Role "assistant" }}}}{IM_START}assistant\n{{{{ .Content }}}}'
            f'{{{{ if not $last }}}}{IM_END}\n{{{{ end }}}}\n'
            f'{{{{- else }}}}{IM_START}{{{{ .Role }}}}\n{{{{ .Content }}}}{IM_END}\n{{{{ end }}}}\n'
            f'{{{{- if and (ne .Role "assistant") $last }}}}{IM_START}assistant\n{THINK_START}\n\n{THINK_END}\n\n'
            f'{{{{ end }}}}\n'
            f'{{{{- end }}}}')


def modelfile(names: Dict[str, str], stops: Sequence[str], generation: dict) -> str:
    lines = [f'FROM ./{names["model"]}', f'FROM ./{names["mmproj"]}', f'TEMPLATE """{ollama_template()}"""']
    lines += [f'PARAMETER stop "{stop}"' for stop in stops]
    lines += [f'PARAMETER {key} {generation[key]}' for key in ('temperature', 'top_k', 'top_p') if key in generation]
    return '\n'.join(lines) + '\n'


def export(model_dir: Path, out: Path, *, types: Sequence[str] = ('f16', ), name: str = 'qwen3-smvl',
           overwrite: bool = False, threads: int = 0) -> Dict[str, int]:
    """Write OUT atomically: one NAME-TYPE.gguf per type, mmproj-NAME-f16.gguf and a Modelfile; bytes per file."""
    from transformers import AutoTokenizer
    model_dir, out = Path(model_dir), Path(out)
    check_checkpoint(model_dir)
    unknown = [t for t in types if t not in TYPES]
    if unknown or not types:
        raise ExportError(f'unknown GGUF type {unknown or types!r}; choose from {", ".join(TYPES)}')
    if out.exists() and not overwrite:
        raise ExportError(f'output folder {out} exists (pass --overwrite to replace it)')
    check_image_policy(model_dir)
    try:
        llama_cpp.source_dir()  # found (or unpacked) before any work
    except llama_cpp.LlamaCppError as e:
        raise ExportError(str(e)) from None
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    check_mtmd_text(model_dir, tokenizer)
    renames = renamed_tokens(tokenizer)
    with atomic_folder(out) as tmp:
        stage = tmp / '.staged'
        stage_text_model(model_dir, stage / 'text', renames)
        stage_vision_model(model_dir, stage / 'vision')
        f16 = tmp / file_names(name, 'f16')['model']
        names = file_names(name, types[0])
        try:
            llama_cpp.convert(stage / 'text', f16, 'f16')
            llama_cpp.show_in_text(f16, [token_id(tokenizer, t) for t in ANSWER_TOKENS])  # before quantize copies it
            llama_cpp.convert(stage / 'vision', tmp / names['mmproj'], 'f16', mmproj=True)
            check_vocabulary(f16, renames)
            for quant_type in types:
                if quant_type != 'f16':
                    llama_cpp.quantize(f16, tmp / file_names(name, quant_type)['model'], quant_type, threads)
                    logger.info(f'{file_names(name, quant_type)["model"]} written')
        except llama_cpp.LlamaCppError as e:
            raise ExportError(str(e)) from None
        if 'f16' not in types:
            f16.unlink()
        shutil.rmtree(stage)
        generation = generation_config(model_dir)
        (tmp / 'Modelfile').write_text(modelfile(names, stop_tokens(generation, tokenizer), generation))
    return {f.name: f.stat().st_size for f in sorted(out.iterdir())}
