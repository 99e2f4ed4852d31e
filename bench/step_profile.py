"""Where one stage-1 training step goes: the recipe's step (swift's template and trainer pieces) beside the seed's.

  python bench/step_profile.py [--preset real|tiny-vocab] [--batch-size 1] [--repeats 3] [--work DIR]

`real`: SigLIP-base + Qwen3-0.6B at the published dimensions; `tiny-vocab`: toy layers with Qwen3's genuine
151,936-token vocabulary, the overhead-bound regime a GPU is in. One process, each piece timed on its own
(synchronised on a GPU), the median of --repeats after a warm-up:
  data       the template's encode of the batch's rows (image decode, tiles, tokens), as a dataloader worker does
  collate    swift's collator (padded, or one packed row with PADDING_FREE)
  vision     the template's _post_encode: the frozen vision tower, the connector and the merge into the embeddings
  llm fwd    the LLM forward with swift's logits_to_keep (logits only where there are labels) and the loss
  metric     swift's token accuracy (argmax, then .cpu() and .tolist(): a device sync)
  backward   backward through every LLM layer to the connector, without and with gradient checkpointing
  recompute  what checkpointing adds to backward (the layers' forward, again)
  optimizer  AdamW on the connector
  bf16 AMP   a bf16 model's forward under autocast (what --bf16 adds on a GPU), minus the plain forward
The seed's step (HF Trainer on rows padded to 2048 tokens, logits for every position) is timed the same way, first;
the recipe's steps then run with swift's trainer set-up (its patch that keeps the frozen vision tower out of
autograd), and checkpointing is switched on and off whole, so no state of one column leaks into another.
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.train_throughput import make_samples  # noqa: E402
from qwen3_smvl.splice.donors import make_splice  # noqa: E402
from qwen3_smvl.swift_plugin import load_plugin  # noqa: E402


def timer(cuda: bool):
    def timed(fn, repeats: int):
        times, result = [], None
        for i in range(repeats + 1):  # the first is a warm-up
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            result = fn()
            if cuda:
                torch.cuda.synchronize()
            if i:
                times.append(time.perf_counter() - t0)
        return statistics.median(times), result
    return timed


def recipe_step(model, template, rows, repeats, timed, checkpointing_too=True) -> dict:
    from swift.metrics.acc import compute_acc
    from swift.trainers.mixin import SwiftMixin
    out = {}
    out['data'], encoded = timed(lambda: [template.encode(json.loads(json.dumps(r)), return_length=True)
                                          for r in rows], repeats)
    out['collate'], batch = timed(lambda: template.data_collator([dict(e) for e in encoded]), repeats)  # it edits its list
    device = next(model.parameters()).device
    batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
    batch['pixel_values'] = batch['pixel_values'].to(model.dtype)
    # swift's own trainer step: labels trimmed to where the loss is, logits only there
    SwiftMixin.prepare_logits_to_keep(SimpleNamespace(template=template, args=SimpleNamespace(tuner_backend='peft')),
                                      batch)
    kwargs = {k: batch[k] for k in ('attention_mask', 'position_ids', 'logits_to_keep') if k in batch}

    def forward():
        embeds = template._post_encode(model, dict(batch))['inputs_embeds']
        return model(inputs_embeds=embeds, labels=batch['labels'], **kwargs)

    with torch.no_grad():
        out['vision'], _ = timed(lambda: template._post_encode(model, dict(batch)), repeats)
        total, _ = timed(forward, repeats)
    out['llm fwd'] = total - out['vision']
    outputs = forward()
    out['metric'], _ = timed(lambda: compute_acc(outputs.logits.argmax(dim=-1), batch['labels']), repeats)

    def backward():
        model.zero_grad(set_to_none=True)
        forward().loss.backward()

    fwd_bwd, _ = timed(backward, repeats)
    out['backward'] = fwd_bwd - total
    if checkpointing_too:
        # it hooks the input embeddings itself (swift's extra enable_input_require_grads would add hooks that
        # disable_input_require_grads cannot find, and they would outlive this measurement)
        model.gradient_checkpointing_enable()
        model.train()
        fwd_bwd_ckpt, _ = timed(backward, repeats)
        # undone whole: a require-grad hook left on the vision embeddings would send later backwards into the tower
        model.gradient_checkpointing_disable()
        model.disable_input_require_grads()
        out['recompute'] = fwd_bwd_ckpt - fwd_bwd
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    out['optimizer'], _ = timed(lambda: (optimizer.step(), optimizer.zero_grad(set_to_none=False)), repeats)
    if device.type == 'cuda' and model.dtype == torch.bfloat16:
        with torch.no_grad(), torch.autocast('cuda', dtype=torch.bfloat16):
            amp, _ = timed(forward, repeats)
        out['bf16 AMP'] = amp - total
    out['tokens'] = int(batch['input_ids'].numel())
    return out


def seed_step(model, processor, rows, repeats, timed) -> dict:
    """The seed's step as its Trainer runs it: rows padded to 2048, logits and loss over every position."""
    from PIL import Image
    out = {}

    def encode():
        texts, images = [], []
        for row in rows:
            q, a = row['messages'][0]['content'].replace('<image>', ''), row['messages'][1]['content']
            messages = [{'role': 'user', 'content': [{'type': 'image'}, {'type': 'text', 'text': q}]},
                        {'role': 'assistant', 'content': a}]
            texts.append(processor.apply_chat_template(messages))
            images.append([Image.open(row['images'][0]).convert('RGB')])
        return processor(text=texts, images=images, return_tensors='pt', padding='max_length', max_length=2048)

    out['data'], enc = timed(encode, repeats)
    device = next(model.parameters()).device
    enc = {k: v.to(device) for k, v in enc.items()}
    enc['pixel_values'] = enc['pixel_values'].to(model.dtype)
    enc['labels'] = enc['input_ids'].masked_fill(enc['input_ids'] == processor.tokenizer.pad_token_id, -100)
    with torch.no_grad():
        out['vision'], _ = timed(lambda: model.model.get_image_features(enc['pixel_values'],
                                                                        enc['pixel_attention_mask']), repeats)
        total, _ = timed(lambda: model(**enc), repeats)
    out['llm fwd'] = total - out['vision']

    def backward():
        model.zero_grad(set_to_none=True)
        model(**enc).loss.backward()

    fwd_bwd, _ = timed(backward, repeats)
    out['backward'] = fwd_bwd - total
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    out['optimizer'], _ = timed(lambda: (optimizer.step(), optimizer.zero_grad(set_to_none=False)), repeats)
    out['tokens'] = int(enc['input_ids'].numel())
    return out


PIECES = ['data', 'collate', 'vision', 'llm fwd', 'metric', 'backward', 'recompute', 'optimizer', 'bf16 AMP']


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', default='real', choices=['real', 'tiny-vocab'])
    ap.add_argument('--batch-size', type=int, default=1)
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--work', type=Path)
    args = ap.parse_args()
    from swift.model import get_model_processor
    from swift.model.patcher import patch_frozen_module
    from swift.template import get_template
    from transformers import AutoProcessor
    work = args.work or Path(tempfile.mkdtemp(prefix='step_profile_'))
    model_dir = make_splice(args.preset, work / args.preset)
    cuda = torch.cuda.is_available()
    device, dtype = ('cuda', torch.bfloat16) if cuda else ('cpu', torch.float32)
    rows = [json.loads(line) for line in make_samples(work / 'data', 4).read_text().splitlines()]
    rows = [rows[1]] * args.batch_size  # the 640x480 picture
    timed = timer(cuda)
    plugin = load_plugin()
    # loaded as `swift sft` loads it
    model, processor = get_model_processor(str(model_dir), torch_dtype=dtype, model_type=plugin.MODEL_TYPE,
                                           attn_impl='sdpa')
    model.to(device)
    model.config.use_cache = False
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith('model.connector.')
    model.train()
    columns = {'seed': seed_step(model, AutoProcessor.from_pretrained(model_dir), rows, args.repeats, timed)}
    # swift's trainer keeps a frozen vision tower out of autograd (its patch_frozen_module), checkpointing or not
    patch_frozen_module(model.model.vision_model)
    for padding_free in (False, True):
        template = get_template(processor, template_type='qwen3_smvl', padding_free=padding_free)
        template.set_mode('train')
        columns['recipe, padding_free' if padding_free else 'recipe, padded'] = recipe_step(
            model, template, rows, args.repeats, timed)
    name = torch.cuda.get_device_name() if cuda else 'CPU'
    print(f'\n{args.preset} dimensions, batch {args.batch_size} (640x480 picture), {name}, {dtype}; ms per piece')
    print('| piece | ' + ' | '.join(columns) + ' |')
    print('|---|' + '---|' * len(columns))
    print('| tokens per step | ' + ' | '.join(str(c['tokens']) for c in columns.values()) + ' |')
    for piece in PIECES:
        if any(piece in c for c in columns.values()):
            cells = [f'{1000 * c[piece]:.1f}' if piece in c else '' for c in columns.values()]
            print(f'| {piece} | ' + ' | '.join(cells) + ' |')
    for label, c in columns.items():
        step = sum(c[p] for p in PIECES if p in c and p != 'recompute')
        print(f'{label}: step without checkpointing {1000 * step:.0f} ms' +
              (f', with it {1000 * (step + c["recompute"]):.0f} ms' if 'recompute' in c else ''))


if __name__ == '__main__':
    main()
