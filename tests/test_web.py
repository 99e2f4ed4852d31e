"""The ONNX export in stock transformers.js (web/): Node's greedy tokens against onnxruntime's, and the page in a real
headless Chromium (WASM) answering as Node does."""
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from conftest import EXPECTED_BOX, ref_text
from qwen3_smvl import tokens
from qwen3_smvl.export.onnx_graphs import export
from qwen3_smvl.export.web_page import (NODE, WEB, ask_node, ask_page, chromium, node_answer, open_page, static_site,
                                        web_installed)

needs_node = pytest.mark.skipif(not web_installed(), reason='no node, or no web/node_modules (`npm ci '
                                                            '--ignore-scripts` in web/; make test runs it)')
needs_browser = pytest.mark.skipif(not (shutil.which('chromium') and shutil.which('chromedriver')), reason=(
    'no chromium + chromedriver (Debian: apt-get install chromium chromium-driver; .ci/run installs them as root)'))
NEW_TOKENS = 12
BOX_QUESTION = '框出' + ref_text('红色圆形')


def picture(colour, size, shape='square') -> Image.Image:
    image = Image.new('RGB', size, colour)
    box = (size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4)
    if shape == 'square':
        image.paste('yellow', box)
    else:  # a circle, drawn: its edge has colours between the two
        from PIL import ImageDraw
        ImageDraw.Draw(image).ellipse(box, fill='yellow')
    return image


# Pictures of exactly one tile (max_image_size): under SMVL_UPSCALE=false the processor neither rescales nor splits
# them, so transformers.js and transformers see the same pixels. Colours, shapes, Chinese and English questions.
EXACT = [(('red', 'square'), '图中有什么？'), (('blue', 'circle'), '这是什么颜色？'),
         (('green', 'square'), '描述这张图片。'), (('white', 'circle'), '图中有几个圆形？'),
         (('black', 'square'), 'What is in the picture?'), (('purple', 'circle'), '黄色的形状在哪里？')]
# Pictures that need a resample: the global view of a split picture, rounding a side up to whole tiles, or a shrink
# to the longest edge (sizes relative to the tiny splice's 32-pixel tiles and 128-pixel longest edge).
RESAMPLED = [(('red', 'square', (64, 64)), '图中有什么？'), (('blue', 'circle', (96, 48)), '这是什么颜色？'),
             (('green', 'square', (48, 80)), '描述这张图片。'), (('white', 'circle', (40, 40)), '图中有几个圆形？'),
             (('black', 'square', (200, 120)), 'What is in the picture?'),
             (('purple', 'circle', (33, 32)), '图中有什么？')]


PIXELS_JS = """
import { RawImage, encode, loadProcessor } from './smvl.mjs';
const [folder, image] = process.argv.slice(1);
const inputs = await encode(await loadProcessor(folder), await RawImage.read(image), '?');
console.log(JSON.stringify({ dims: inputs.pixel_values.dims, data: Array.from(inputs.pixel_values.data) }));
"""


def node_pixels(folder: Path, image: Path):
    """transformers.js' pixel_values for a picture, through web/smvl.mjs' encode (policy and tiles included)."""
    import numpy as np
    res = subprocess.run([NODE, '--input-type=module', '-e', PIXELS_JS, str(folder), str(image)], cwd=WEB,
                         capture_output=True, text=True, timeout=120, check=True)
    out = json.loads(res.stdout)
    return np.array(out['data'], np.float32).reshape(out['dims'])


def pixel_gaps(js, py) -> str:
    """Largest difference in the split tiles and in the global view (the last tile), in normalised units."""
    tiles = f'tiles {abs(js[0, :-1] - py[0, :-1]).max():.3f}, ' if js.shape[1] > 1 else ''
    return f'{js.shape[1]} tile(s): {tiles}global view {abs(js[0, -1] - py[0, -1]).max():.3f}'


@pytest.fixture(scope='module')
def exported(distinct_head_model, tmp_path_factory):
    out = tmp_path_factory.mktemp('web') / 'model'
    export(distinct_head_model, out, quantizations=['int8'])
    return out


def test_the_folder_has_what_transformers_js_reads_and_transformers_reads_the_same(exported, distinct_head_model):
    from transformers import AutoProcessor
    preprocessor = json.loads((exported / 'preprocessor_config.json').read_text())
    processor_config = json.loads((exported / 'processor_config.json').read_text())
    assert preprocessor == {**processor_config['image_processor'], 'processor_class': 'SmolVLMProcessor'}
    tokenizer_config = json.loads((exported / 'tokenizer_config.json').read_text())
    assert tokenizer_config['chat_template'] == (exported / 'chat_template.jinja').read_text()
    app = json.loads((exported / 'smvl_app.json').read_text())
    assert {app['tokens'][k] for k in ('image_token', 'fake_image_token', 'global_image_token')} == {
        tokens.IMAGE_TOKEN, tokens.FAKE_IMAGE_TOKEN, tokens.GLOBAL_IMAGE_TOKEN}
    assert app['tokens']['box_start'] == tokens.BOX_START and app['images']['upscale'] is True  # SMVL_UPSCALE's default
    config = json.loads((exported / 'config.json').read_text())
    assert config['transformers.js_config'] == {'use_external_data_format': {}}  # the tiny graphs have no _data files
    # transformers reads the same processor as from the checkpoint
    ours, original = AutoProcessor.from_pretrained(exported), AutoProcessor.from_pretrained(distinct_head_model)
    assert ours.image_processor.to_dict() == original.image_processor.to_dict()
    assert ours.chat_template == original.chat_template


@pytest.fixture(scope='module')
def exported_no_upscale(exported, tmp_path_factory):
    """The export as tools/export_onnx.py writes it under SMVL_UPSCALE=false (the policy is recorded in smvl_app.json)."""
    out = tmp_path_factory.mktemp('web_no_upscale') / 'model'
    shutil.copytree(exported, out)
    app = json.loads((out / 'smvl_app.json').read_text())
    app['images']['upscale'] = False
    (out / 'smvl_app.json').write_text(json.dumps(app))
    return out


@needs_node
def test_node_answers_as_onnxruntime_token_for_token(exported, exported_no_upscale, tmp_path, monkeypatch):
    """web/ask.mjs (transformers.js in Node, fp32) against OnnxVLM (onnxruntime, in a child process): equal greedy
    tokens where the pixels can be equal; the same prompt layout (tiles, image tokens) everywhere; on resampled
    pictures the agreement is printed."""
    from test_onnx import onnx_answers
    answers = []
    # Pictures of one tile are only left unresampled under SMVL_UPSCALE=false; the default resizes them up
    with monkeypatch.context() as env:
        env.setenv('SMVL_UPSCALE', 'false')
        tile = json.loads((exported / 'preprocessor_config.json').read_text())['max_image_size']['longest_edge']
        pictures = [picture(colour, (tile, tile), shape) for (colour, shape), _ in EXACT]
        _, reference = onnx_answers(exported_no_upscale, [([p], q) for p, (_, q) in zip(pictures, EXACT)], NEW_TOKENS)
    for image, ((colour, shape), question), (inputs, expected, _) in zip(pictures, EXACT, reference):
        path = tmp_path / f'{colour}.png'
        image.save(path)
        assert len(expected) >= 4  # the head is random: tokens, not sentences, but enough to compare
        assert abs(node_pixels(exported_no_upscale, path) - inputs['pixel_values']).max() < 1e-6  # the same pixels
        got = node_answer(exported_no_upscale, path, question, '--max-new-tokens', str(NEW_TOKENS))
        assert got['promptTokens'] == inputs['input_ids'].shape[1], question
        assert got['tokens'] == expected, (colour, shape, question)
        answers.append(tuple(expected))
    assert len(set(answers)) > 1  # the answers depend on the input
    same = 0
    pictures = [picture(colour, size, shape) for (colour, shape, size), _ in RESAMPLED]
    _, reference = onnx_answers(exported, [([p], q) for p, (_, q) in zip(pictures, RESAMPLED)], NEW_TOKENS)
    for image, ((colour, shape, size), question), (inputs, expected, _) in zip(pictures, RESAMPLED, reference):
        path = tmp_path / f'{colour}-{size[0]}x{size[1]}.png'
        image.save(path)
        got = node_answer(exported, path, question, '--max-new-tokens', str(NEW_TOKENS))
        assert got['promptTokens'] == inputs['input_ids'].shape[1], size  # the same tiles, so the same layout
        same += got['tokens'] == expected
        print(f'{size[0]}x{size[1]}: {pixel_gaps(node_pixels(exported, path), inputs["pixel_values"])}, '
              f'answer {"equal" if got["tokens"] == expected else "differs"}')
    # measured, not asserted: transformers.js resamples with onnxruntime's bilinear Resize on normalised floats,
    # transformers with torchvision's antialiased LANCZOS on 8-bit pixels (docs/web.md)
    print(f'pictures that need a resample: {same} of {len(RESAMPLED)} answers equal')


@needs_node
def test_ask_refuses_bad_input_in_one_line(exported, tmp_path):
    image = tmp_path / 'red.png'
    picture('red', (32, 32)).save(image)
    cases = [((tmp_path / 'nowhere', image, '图中有什么？'), 'no smvl_app.json'),
             ((exported, image, '图中有什么？', '--dtype', 'q4'), 'no onnx/vision_encoder_q4.onnx'),
             ((exported, image, '图中有什么？', '--dtype', 'int4'), 'unknown dtype int4'),
             ((exported, tmp_path / 'missing.png', '图中有什么？'), 'missing.png: not a readable image'),
             ((exported, image), 'usage: node web/ask.mjs')]
    for args, message in cases:
        res = ask_node(*args) if len(args) > 2 else subprocess.run(
            [NODE, str(WEB / 'ask.mjs'), *map(str, args)], capture_output=True, text=True, timeout=60)
        assert res.returncode == 2 and message in res.stderr, (args, res.stderr)
        assert res.stderr.startswith('error: '), res.stderr


@pytest.mark.slow
@needs_node
@needs_browser
def test_page_answers_in_the_browser_as_node_does(box_model, tmp_path):
    """The page loads the trained box model's int8 files in Chromium (WASM), answers a Chinese box question about an
    uploaded picture with Node's tokens and text, and draws the box."""
    from selenium.webdriver.common.by import By
    model, image = box_model
    folder = tmp_path / 'onnx'
    export(model, folder, quantizations=['int8'])
    node = node_answer(folder, image, BOX_QUESTION, '--dtype', 'int8')
    assert node['text'] == EXPECTED_BOX  # the trained answer survives the export, int8 and transformers.js
    with static_site(folder, tmp_path) as url, chromium() as driver:
        assert 'error' not in open_page(driver, url, 'int8', seconds=120)
        page = ask_page(driver, image, BOX_QUESTION, seconds=120)
        assert 'error' not in page, page['error']
        assert page['tokens'] == node['tokens'] and page['text'] == node['text'], page
        answer = driver.find_element(By.ID, 'answer')
        assert answer.text == node['shown'] == '红色圆形 (125,250),(375,750)'
        canvas = driver.find_element(By.ID, 'picture')
        width, height = int(canvas.get_attribute('width')), int(canvas.get_attribute('height'))
        assert (width, height) == (512, 384)  # the 64x48 upload, drawn 8 times larger
        x1, x2, y_mid = round(0.125 * width), round(0.375 * width), height // 2  # the box's sides
        pixel = 'return Array.from(arguments[0].getContext("2d").getImageData(arguments[1], arguments[2], 1, 1).data)'
        for side in (x1, x2):  # outlined in red there
            assert driver.execute_script(pixel, canvas, side, y_mid)[:3] == [255, 0, 0]
        assert driver.execute_script(pixel, canvas, (x1 + x2) // 2, y_mid)[:3] == [255, 255, 255]
        driver.save_screenshot(str(tmp_path / 'web.png'))
        print(f'screenshot: {tmp_path / "web.png"}')
