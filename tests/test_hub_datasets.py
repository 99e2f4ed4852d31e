"""Hub datasets by name and from local copies in their exact schema: the_cauldron, llava-en-zh-300k, alpaca-gpt4-zh."""
import json

import pytest
from swift.utils import import_external_file

import hub_data
from conftest import REPO, train_template

register = import_external_file(str(REPO / 'plugin' / 'register.py'))  # registers the datasets


@pytest.fixture(scope='module')
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp('hub')
    return {'cauldron': hub_data.cauldron_subset(root), 'llava_zh': hub_data.llava_zh(root),
            'alpaca_zh': hub_data.alpaca_zh(root)}


def load(path):
    from swift.dataset import load_dataset
    return list(load_dataset([str(path)])[0])


def test_the_cauldron_is_registered_by_name_on_both_hubs():
    from swift.dataset.dataset_syntax import DatasetSyntax
    from qwen3_smvl.datasets.registry import CAULDRON, CauldronPreprocessor
    assert len(CAULDRON['subsets']) == 50
    for name, use_hf in (('AI-ModelScope/the_cauldron:cocoqa', False), ('hf::HuggingFaceM4/the_cauldron:vqav2', True)):
        syntax = DatasetSyntax.parse(name)
        meta = syntax.get_dataset_meta(use_hf)
        assert isinstance(meta.preprocess_func, CauldronPreprocessor)
        assert [s.name for s in meta.subsets] == list(CAULDRON['subsets']) and syntax.subsets[0] in CAULDRON['subsets']
    meta = DatasetSyntax.parse('hf::BUAADreamer/llava-en-zh-300k:zh').get_dataset_meta(True)
    assert meta.hf_dataset_id == 'BUAADreamer/llava-en-zh-300k' and [s.name for s in meta.subsets] == ['zh', 'en']


def test_cauldron_rows_keep_every_turn_and_image(hub):
    rows = load(hub['cauldron'])
    assert len(rows) == 4  # the row without a usable turn is dropped while preprocessing
    assert [len(r['images']) for r in rows] == [1, 2, 1, 1]
    assert rows[1]['messages'][0]['content'] == '<image><image>Are the two pictures the same colour?'
    assert [m['content'] for m in rows[2]['messages']] == ['<image>What colour is it?', 'Yellow.', 'Is it bright?',
                                                           'Yes.']
    assert all(isinstance(image, dict) and image['bytes'] for r in rows for image in r['images'])  # not decoded yet


def test_both_images_of_a_two_image_row_reach_the_model(hub, tiny_splice):
    from PIL import Image
    import io
    template = train_template(tiny_splice)
    processor = template.processor
    row = load(hub['cauldron'])[1]
    encoded = template.encode(row)
    images = [Image.open(io.BytesIO(image['bytes'])) for image in row['images']]
    tiles = [processor.image_processor([[image]], return_tensors='pt', **template.image_kwargs)['pixel_values'].shape[1]
             for image in images]
    image_id = processor.tokenizer.convert_tokens_to_ids('<|image_pad|>')
    assert encoded['pixel_values'].shape[0] == sum(tiles) and all(t >= 1 for t in tiles)
    assert encoded['input_ids'].count(image_id) == sum(tiles) * processor.image_seq_len


def test_llava_zh_and_alpaca_zh_copies_load_as_swift_messages(hub):
    llava = load(hub['llava_zh'])
    assert [len(r['messages']) for r in llava] == [4, 2] and all(len(r['images']) == 1 for r in llava)
    assert llava[1]['messages'][0]['content'] == '请描述这张图片。\n<image>'
    alpaca = load(hub['alpaca_zh'])
    assert alpaca[1]['messages'] == [{'role': 'user', 'content': '把下面的词翻译成英文。\n苹果'},
                                     {'role': 'assistant', 'content': 'apple'}] and 'images' not in alpaca[1]


@pytest.mark.slow
def test_stage1_trains_on_a_mixture_of_hub_layouts(hub, tiny_splice, tmp_path):
    """the_cauldron + llava-en-zh (zh) + two rows of alpaca-zh text-only chat, as `name#N`; the corrupt image's row
    is dropped with its name and counted, every other row trains."""
    from test_recipes import run_recipe
    out = tmp_path / 'run'
    mixture = f'{hub["cauldron"]} {hub["llava_zh"]} {hub["alpaca_zh"]}#2'
    log = run_recipe('stage1.sh', MODEL=tiny_splice, DATASET=mixture, OUTPUT_DIR=out, MAX_STEPS=2, SAVE_STEPS=2,
                     LAZY_TOKENIZE='false', SAMPLE_STEPS=0)
    assert 'num_rows: 7\n' in log  # 3 + 2 + 2 encoded up front
    assert "bad row '<image>What is this?'" in log and 'not a readable image' in log
    assert 'before training: 1 bad rows dropped: unreadable image 1' in log
    assert [json.loads(line)['cause'] for line in (out / 'bad_rows.jsonl').read_text().splitlines()] == \
        ['unreadable image']
    assert (out / 'last-checkpoint').exists()


def test_preview_shows_every_row_with_its_tokens(hub, tiny_splice, tmp_path):
    from PIL import Image

    from conftest import run_tool
    out = tmp_path / 'preview.png'
    res = run_tool('tools/preview_dataset.py', hub['cauldron'], '--n', 8, '--model', tiny_splice, '--out', out)
    table = [line.split() for line in res.stdout.splitlines() if line[:4].strip().isdigit()]
    assert [row[0] for row in table] == ['0', '1', '2', '3']  # 4 rows after preprocessing, though 8 were asked
    assert table[3][1] == '-' and 'dropped in training: ImageError' in res.stdout  # the corrupt image's row
    assert int(table[1][2]) > int(table[0][2])  # its two images both counted
    assert '3 of 4 rows trainable' in res.stdout
    sheet = Image.open(out)
    assert sheet.width == 1200 and sheet.height >= 4 * 210  # one band per row, each at least a thumbnail high
    assert f'({sheet.width}x{sheet.height}, 4 rows)' in res.stdout
