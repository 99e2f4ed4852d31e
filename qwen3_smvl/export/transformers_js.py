"""The files transformers.js (4.x) reads from an exported folder, written beside the ones transformers reads.

transformers.js does not read what transformers 5 writes for a SmolVLM processor:
  preprocessor_config.json      its AutoProcessor/AutoImageProcessor read the image processor (and the processor
                                class) from here; transformers writes it nested in processor_config.json
  tokenizer_config.json         its tokenizer takes the chat template from the `chat_template` key only;
                                transformers writes chat_template.jinja (which it still prefers when both exist)
  config.json                   `transformers.js_config.use_external_data_format` names the graphs whose weights
                                are in GRAPH.onnx_data (transformers.js fetches no external data unless told)
  smvl_app.json               the splice's token strings (qwen3_smvl/tokens.py) and the recipes' image policy, for
                                an app: transformers.js' Idefics3Processor hard-codes SmolVLM's own image tokens
                                and resizes every image up to size.longest_edge
"""
import json
from pathlib import Path

from qwen3_smvl import tokens
from qwen3_smvl.images import upscales

APP_FILE = 'smvl_app.json'


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding='utf-8'))


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + '\n', encoding='utf-8')


def write_preprocessor_config(folder: Path) -> None:
    processor = read_json(folder / 'processor_config.json')
    # processor_class first: transformers.js' AutoProcessor picks its Idefics3/SmolVLM processor by it
    write_json(folder / 'preprocessor_config.json',
               {**processor['image_processor'], 'processor_class': processor['processor_class']})


def write_chat_template_key(folder: Path) -> None:
    config = read_json(folder / 'tokenizer_config.json')
    config['chat_template'] = (folder / 'chat_template.jinja').read_text(encoding='utf-8')
    write_json(folder / 'tokenizer_config.json', config)


def write_external_data_flags(folder: Path) -> None:
    """Mark every graph file that keeps its weights in FILE_data (transformers.js' naming, one chunk)."""
    external = {graph.name: True for graph in sorted((folder / 'onnx').glob('*.onnx'))
                if (graph.parent / f'{graph.name}_data').exists()}
    config = read_json(folder / 'config.json')
    js_config = {**config.get('transformers.js_config', {}), 'use_external_data_format': external}
    write_json(folder / 'config.json', {**config, 'transformers.js_config': js_config})


def app_settings(folder: Path) -> dict:
    """What an app needs beyond transformers.js' own files: token strings and how images are sized."""
    image_processor = read_json(folder / 'preprocessor_config.json')
    return {
        'tokens': {**tokens.PROCESSOR_TOKENS, 'object_ref_start': tokens.OBJECT_REF_START,
                   'object_ref_end': tokens.OBJECT_REF_END, 'box_start': tokens.BOX_START,
                   'box_end': tokens.BOX_END, 'think_start': tokens.THINK_START, 'think_end': tokens.THINK_END},
        # the recipes' image policy at export (SMVL_UPSCALE, default true: resize to the longest edge, then tile)
        'images': {'longest_edge': image_processor['size']['longest_edge'], 'upscale': upscales(),
                   'tile_size': image_processor['max_image_size']['longest_edge'],
                   'image_splitting': image_processor.get('do_image_splitting', True)},
        # box coordinates are thousandths of the original picture (qwen3_smvl/grounding.py)
        'boxes': {'scale': 1000},
    }


def write_transformers_js_files(folder: Path) -> None:
    """After transformers' own files are in `folder`: add what transformers.js and the web app read."""
    folder = Path(folder)
    write_preprocessor_config(folder)
    write_chat_template_key(folder)
    write_external_data_flags(folder)
    write_json(folder / APP_FILE, app_settings(folder))
