"""qwen3_smvl/datasets/vision_pretraining.py: the toy vision tower taught to see the synthetic pictures, in place."""
import shutil

import torch
from safetensors.torch import load_file
from transformers import AutoModelForImageTextToText

from qwen3_smvl.datasets.vision_pretraining import pretrain_vision


def test_the_tower_learns_colours_and_shapes_and_nothing_else_changes(tiny_donors, tmp_path):
    donor = tmp_path / 'vision'
    shutil.copytree(tiny_donors / 'vision', donor)
    before = load_file(donor / 'model.safetensors')
    accuracy = pretrain_vision(donor, steps=100, n_pictures=100)
    after = load_file(donor / 'model.safetensors')
    assert sorted(p.name for p in donor.iterdir()) == sorted(p.name for p in (tiny_donors / 'vision').iterdir())
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert before.keys() == after.keys() and changed
    assert all(k.startswith('model.vision_model.') for k in changed)  # the connector and the donor's LLM as they were
    assert accuracy['colour'] > 0.9  # of covered held-out patches (chance 1/4); shapes take the demo's 600 steps
    AutoModelForImageTextToText.from_pretrained(donor)  # still a SmolVLM2 folder
