"""The blind-model failure of the seed article: image tokens under an id the merge does not read."""
import json

import pytest
import torch
from transformers import AutoModelForImageTextToText, AutoProcessor

from qwen3_smvl.splice.check import BlindModelError, check_sees, run_self_check


def test_spliced_model_sees(tiny_splice):
    result = run_self_check(tiny_splice)
    assert result['image_tokens'] == 4 and result['max_logit_diff_image_vs_blank'] > 1e-6


def test_config_image_token_id_out_of_step_is_caught(splice_copy, tiny_donors):
    # The seed's failure: the prompt carries <|image_pad|> but the merge still looks for the donor's <image> id.
    donor_image_id = json.loads((tiny_donors / 'vision' / 'config.json').read_text())['image_token_id']
    config = json.loads((splice_copy / 'config.json').read_text())
    assert donor_image_id != config['image_token_id']
    config['image_token_id'] = donor_image_id
    (splice_copy / 'config.json').write_text(json.dumps(config))
    with pytest.raises(BlindModelError, match='never be merged'):
        run_self_check(splice_copy)


def test_id_changed_on_one_object_only_is_caught(tiny_splice):
    # Set on the outer object, as the seed did, but not on the config the merge reads: the model stays blind.
    model = AutoModelForImageTextToText.from_pretrained(tiny_splice).eval()
    processor = AutoProcessor.from_pretrained(tiny_splice)
    real_id = model.config.image_token_id
    model.model.config.image_token_id = real_id + 1
    model.image_token_id = real_id
    with pytest.raises(BlindModelError):
        check_sees(model, processor)


def test_a_model_that_ignores_images_is_caught(tiny_splice):
    model = AutoModelForImageTextToText.from_pretrained(tiny_splice).eval()
    with torch.no_grad():
        model.model.connector.modality_projection.proj.weight.zero_()  # every image becomes the same zeros
    with pytest.raises(BlindModelError, match='same next-token logits'):
        check_sees(model, AutoProcessor.from_pretrained(tiny_splice))
