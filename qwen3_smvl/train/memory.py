"""Does a training step need gradient checkpointing? An estimate of its peak memory without it, against the device's.

  python -m qwen3_smvl.train.memory --model DIR --batch-size 8 --max-length 2048 --dtype bfloat16 --tuner connector
  (recipes/common.sh runs this for GRADIENT_CHECKPOINTING=auto; prints `true|false WHY` on one line)

Checkpointing re-runs every LLM layer's forward during backward (the gradient reaches the connector through all of
them, even when they are frozen), so it is turned on only when the step would not fit without it. The estimate is
for the worst batch, BATCH_SIZE rows of MAX_LENGTH tokens, on the high side:
  weights      every parameter in the training dtype
  optimizer    full fine-tuning: a gradient in the training dtype and AdamW's two float32 moments per LLM parameter
               (ZeRO-2/3 divide them, and ZeRO-3 the weights, by the number of ranks); connector and LoRA: negligible
  activations  per token and LLM layer, the tensors backward keeps: 7 hidden-wide (norms, q, attention output,
               residuals), 4 MLP-wide (gate, up, activation, product) and 2 key/value-wide, in the training dtype;
               with memory-efficient attention (SDPA/flash) nothing grows with the square of the length
  logits       per token: the vocabulary in the training dtype, its float32 copy for the loss and its gradient
Peak memory without checkpointing above FRACTION of the device's (one GPU's total memory; on the CPU, the host's)
turns checkpointing on.
"""
import argparse
import json
import os
import sys
from pathlib import Path

DTYPE_BYTES = {'float32': 4, 'bfloat16': 2, 'float16': 2}
FRACTION = 0.85  # headroom for the allocator's fragmentation, the vision tower and the dataloader


def step_bytes(text_config: dict, batch: int, max_length: int, dtype: str, tuner: str, world: int = 1,
               zero: int = 0, checkpointing: bool = False) -> int:
    h, i = text_config['hidden_size'], text_config['intermediate_size']
    layers, vocab = text_config['num_hidden_layers'], text_config['vocab_size']
    kv = text_config['num_key_value_heads'] * text_config.get('head_dim', h // text_config['num_attention_heads'])
    per_layer = h * (4 * h + 2 * kv) + 3 * h * i  # q and o, k and v, gate up and down
    params = layers * per_layer + vocab * h * (1 if text_config.get('tie_word_embeddings') else 2)
    b = DTYPE_BYTES[dtype]
    weights = params * b // (world if zero >= 3 else 1)
    optimizer = params * (b + 8) // (world if zero >= 2 else 1) if tuner == 'full' else 0
    tokens = batch * max_length
    layer_activations = tokens * (7 * h + 4 * i + 2 * kv) * b
    kept = tokens * h * b * layers + layer_activations if checkpointing else layer_activations * layers
    logits = tokens * vocab * (b + 8)
    return weights + optimizer + kept + logits


def device_bytes() -> tuple:
    """(bytes, what they are): one GPU's total memory, or the CPU host's (total, as for a GPU: the decision does not
    change with what else happens to run at the moment)."""
    import torch
    if torch.cuda.is_available():
        return torch.cuda.get_device_properties(0).total_memory, torch.cuda.get_device_name(0)
    with open('/proc/meminfo') as f:
        total = next(int(line.split()[1]) * 1024 for line in f if line.startswith('MemTotal:'))
    return total, 'CPU RAM'


def decide(model: Path, batch: int, max_length: int, dtype: str, tuner: str, deepspeed: str = '') -> tuple:
    """(checkpointing needed, one line saying why)."""
    text_config = json.loads((Path(model) / 'config.json').read_text())['text_config']
    world = int(os.environ.get('NPROC_PER_NODE', 1)) * int(os.environ.get('NNODES', 1))
    zero = 3 if 'zero3' in deepspeed else 2 if 'zero2' in deepspeed else 0
    without = step_bytes(text_config, batch, max_length, dtype, tuner, world, zero, checkpointing=False)
    total, where = device_bytes()
    need = without > FRACTION * total
    gib = 2**30
    return need, (f'{"on" if need else "off"} (auto: a step of {batch}x{max_length} tokens needs about '
                  f'{without / gib:.2f} GiB without it, {where}: {total / gib:.1f} GiB)')


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', type=Path, required=True)
    ap.add_argument('--batch-size', type=int, required=True)
    ap.add_argument('--max-length', type=int, required=True)
    ap.add_argument('--dtype', choices=sorted(DTYPE_BYTES), required=True)
    ap.add_argument('--tuner', choices=['connector', 'full', 'lora', 'dora'], required=True)
    ap.add_argument('--deepspeed', default='')
    args = ap.parse_args(argv)
    need, why = decide(args.model, args.batch_size, args.max_length, args.dtype, args.tuner, args.deepspeed)
    print(f'{str(need).lower()} {why}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
