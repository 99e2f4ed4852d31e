"""Beyond SigLIP-base and a tied head: SmolVLM2-2.2B's so400m geometry (patch 14, pixel shuffle 3, a tile side 14
does not divide) and an untied LLM head (Qwen3-8B's), at toy sizes, through build, template, stage 1 and vLLM."""
import json

import pytest
import torch
from safetensors.torch import load_file

from test_recipes import CONNECTOR, run_recipe, trainable
from test_template import CASES, assert_swift_ids_equal_jinja_plus_processor
from test_vllm import pictures, requires_vllm, transformers_greedy, vllm_greedy


def test_build_keeps_the_geometry_and_the_untied_head(so400m_splice):
    from transformers import AutoModelForImageTextToText, AutoProcessor
    config = json.loads((so400m_splice / 'config.json').read_text())
    vision = config['vision_config']
    assert (config['scale_factor'], vision['patch_size'], vision['image_size']) == (3, 14, 90)
    assert config['tie_word_embeddings'] is False and config['text_config']['tie_word_embeddings'] is False
    assert AutoProcessor.from_pretrained(so400m_splice).image_seq_len == (90 // 14 // 3) ** 2 == 4
    weights = load_file(so400m_splice / 'model.safetensors')
    assert not torch.equal(weights['lm_head.weight'], weights['model.text_model.embed_tokens.weight'])
    model = AutoModelForImageTextToText.from_pretrained(so400m_splice)
    assert model.lm_head.weight.data_ptr() != model.model.text_model.embed_tokens.weight.data_ptr()
    assert model.model.connector.modality_projection.proj.weight.shape == (128, 48 * 3 * 3)


@pytest.mark.parametrize('case', list(CASES))
def test_swift_ids_equal_jinja_plus_processor(so400m_splice, case):
    from swift.model import get_model_processor
    processor = get_model_processor(str(so400m_splice), model_type='qwen3_smvl', load_model=False)[1]
    assert_swift_ids_equal_jinja_plus_processor(processor, case)


def test_stage1_trains_exactly_the_connector(so400m_splice, tmp_path):
    from qwen3_smvl.datasets.synthetic import make_dataset
    files = make_dataset(tmp_path / 'data', train=8, test=1, size=120)
    run_recipe('stage1.sh', MODEL=so400m_splice, DATASET=files['train'], OUTPUT_DIR=tmp_path / 'run', MAX_STEPS=2,
               SAMPLE_STEPS=0, REPORT_TO='none')
    names, _ = trainable(tmp_path / 'run')
    assert names == [CONNECTOR]


@requires_vllm
def test_vllm_matches_transformers_greedy(so400m_splice, tmp_path):
    red, blue = pictures(tmp_path, size=(200, 120))
    cases = [{'image': image, 'question': '图中有什么？', 'processor_kwargs': {}, 'max_tokens': 6} for image in (red, blue)]
    served = vllm_greedy(so400m_splice, cases, tmp_path)
    expected = transformers_greedy(so400m_splice, cases)
    assert [s['token_ids'] for s in served] == [e['token_ids'] for e in expected]
