"""Packed rows with SDPA and eager attention: each row's loss and the connector's gradient as if trained alone."""
import json

import pytest
import torch
from PIL import Image
from swift.model import get_model_processor
from swift.template import get_template
from transformers import AutoModelForImageTextToText

from qwen3_smvl.swift_plugin import load_plugin
from qwen3_smvl.train.packing import PackingError, check_attention

SIZES = [(40, 30), (700, 300), (64, 64)]  # 1, several and a few tiles: different tile counts in one packed row


@pytest.fixture(scope='module')
def rows(tmp_path_factory):
    work = tmp_path_factory.mktemp('packing')
    out = []
    for i, size in enumerate(SIZES):
        Image.new('RGB', size, (60 * i, 100, 200)).save(work / f'{i}.png')
        out.append({'messages': [{'role': 'user', 'content': '<image>图中是什么颜色？'},
                                 {'role': 'assistant', 'content': f'颜色{i}号' * (i + 1)}], 'images': [str(work / f'{i}.png')]})
    out.append({'messages': [{'role': 'user', 'content': '你好'}, {'role': 'assistant', 'content': '你好！'}]})
    return out


def per_token_losses(model, template, rows):
    """Summed cross-entropy of each row and the collated batch, through the template as swift's trainer uses it."""
    batch = template.data_collator([template.encode(json.loads(json.dumps(r)), return_length=True) for r in rows])
    embeds = template._post_encode(model, dict(batch))['inputs_embeds']
    kwargs = {k: batch[k] for k in ('attention_mask', 'position_ids') if k in batch}
    logits = model(inputs_embeds=embeds, **kwargs).logits.float()
    labels = batch['labels']
    ce = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), reduction='none')
    return ce.view(labels.shape[0], -1), batch


@pytest.mark.parametrize('attn_impl', ['sdpa', 'eager'])
def test_a_packed_row_trains_as_its_rows_one_by_one(tiny_splice, rows, attn_impl):
    plugin = load_plugin()
    processor = get_model_processor(str(tiny_splice), model_type=plugin.MODEL_TYPE, load_model=False)[1]
    model = AutoModelForImageTextToText.from_pretrained(tiny_splice, attn_implementation=attn_impl)
    model.config.use_cache = False  # as swift's trainer sets it: the packed mask needs no cache
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith('model.connector.')
    connector = model.model.connector.modality_projection.proj.weight

    one_by_one = get_template(processor, template_type='qwen3_smvl')
    one_by_one.set_mode('train')
    alone = []
    for row in rows:
        ce, _ = per_token_losses(model, one_by_one, [row])
        ce.sum().backward()
        alone.append(ce.sum().detach())
    grad_alone, connector.grad = connector.grad.clone(), None

    packed_template = get_template(processor, template_type='qwen3_smvl', padding_free=True)
    packed_template.set_mode('train')
    ce, batch = per_token_losses(model, packed_template, rows)
    assert batch['input_ids'].shape[0] == 1 and 'attention_mask' not in batch  # one row, no mask: the packed layout
    tiles = batch['pixel_values'].shape[1]
    assert tiles > len(SIZES) + 2  # several tiles per image for the wide one
    position_ids = batch['position_ids'][0]
    starts = (position_ids == 0).nonzero().flatten().tolist() + [len(position_ids)]
    assert len(starts) == len(rows) + 1
    packed = [ce[0, s:e - 1].sum() for s, e in zip(starts[:-1], starts[1:])]  # the last token of a row predicts none
    ce.sum().backward()
    torch.testing.assert_close(torch.stack(packed).detach(), torch.stack(alone), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(connector.grad, grad_alone, rtol=1e-4, atol=1e-3)
    assert grad_alone.abs().max() > 1  # a gradient worth comparing


def test_attention_that_would_mix_packed_rows_is_refused():
    for impl in ('sdpa', 'eager', None, 'flash_attention_2'):
        check_attention(impl, 'packing', cuda=False)
    check_attention('flex_attention', 'packing', cuda=True)
    with pytest.raises(PackingError, match='flex_attention needs a GPU'):
        check_attention('flex_attention', 'padding_free', cuda=False)
    with pytest.raises(PackingError, match="attn_impl 'sdpa_paged' would let every row attend"):
        check_attention('sdpa_paged', 'packing', cuda=True)


def test_padded_and_padding_free_batches_give_the_same_loss_on_demo_rows(tiny_splice, tmp_path):
    """A batch as `make demo` trains on (visual QA, text-only and grounding rows of tools/make_dataset.py): swift's
    loss, as its trainer computes it (labels and logits only where the loss is), and the gradients are the same padded
    and padding-free. A gap between the two in training is the order of float sums, not different losses."""
    from types import SimpleNamespace

    from swift.trainers.mixin import SwiftMixin

    from qwen3_smvl.datasets.synthetic import make_dataset
    files = make_dataset(tmp_path, train=6, test=1, text_only=1, grounding=3, grounding_test=1)
    rows = [json.loads(line) for name in ('train', 'grounding_train') for line in files[name].read_text().splitlines()]
    assert any('objects' in r for r in rows) and any('images' not in r for r in rows)
    plugin = load_plugin()
    processor = get_model_processor(str(tiny_splice), model_type=plugin.MODEL_TYPE, load_model=False)[1]
    model = AutoModelForImageTextToText.from_pretrained(tiny_splice, attn_implementation='sdpa')
    model.config.use_cache = False
    for name, p in model.named_parameters():
        p.requires_grad = not name.startswith('model.vision_model.')
    results = {}
    for padding_free in (False, True):
        template = get_template(processor, template_type='qwen3_smvl', padding_free=padding_free)
        template.set_mode('train')
        batch = template.data_collator([template.encode(json.loads(json.dumps(r)), return_length=True) for r in rows])
        if not padding_free:
            assert (batch['attention_mask'] == 0).any()  # rows of different lengths: padding to compare against
        trainer = SimpleNamespace(template=template, args=SimpleNamespace(tuner_backend='peft'))
        SwiftMixin.prepare_logits_to_keep(trainer, batch)
        embeds = template._post_encode(model, dict(batch))['inputs_embeds']
        kwargs = {k: batch[k] for k in ('attention_mask', 'position_ids', 'logits_to_keep') if k in batch}
        loss = model(inputs_embeds=embeds, labels=batch['labels'], **kwargs).loss
        model.zero_grad()
        loss.backward()
        results[padding_free] = loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()
                                                if p.grad is not None}
    (padded_loss, padded_grads), (free_loss, free_grads) = results[False], results[True]
    assert padded_loss > 1
    torch.testing.assert_close(free_loss, padded_loss, rtol=1e-6, atol=1e-6)
    assert padded_grads.keys() == free_grads.keys() and any(n.startswith('model.connector') for n in padded_grads)
    for name in padded_grads:
        torch.testing.assert_close(free_grads[name], padded_grads[name], rtol=1e-4, atol=1e-5, msg=name)
