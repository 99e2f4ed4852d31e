"""`--packing` / `--padding_free` without flash-attention, for this model type.

swift refuses both unless `attn_impl` is a flash-attention kernel, which separates packed rows by their position ids.
transformers (5.x) does the same for the attention kernels it builds masks for: with position ids that restart at 0
per row, no attention mask and no cache (what swift's padding-free collator passes in training), `create_causal_mask`
finds the packed rows and builds a block-diagonal causal mask. tests/test_packing.py checks per-row losses and the
connector's gradient against the rows one by one.
"""
MASKED_ATTENTION = ('sdpa', 'eager', 'flex_attention')  # transformers' packed-sequence mask applies to these
FLASH_ATTENTION = ('flash_attn', 'flash_attention_2', 'flash_attention_3', 'flash_attention_4')  # swift's own list


class PackingError(ValueError):
    pass


def check_attention(attn_impl, feature: str, cuda: bool) -> None:
    """Raise PackingError unless `attn_impl` keeps packed rows apart (None: transformers' default, sdpa)."""
    impl = attn_impl or 'sdpa'
    if impl in FLASH_ATTENTION:
        return
    if impl not in MASKED_ATTENTION:
        raise PackingError(f'--{feature} needs an attention implementation that keeps packed rows apart: one of '
                           f'{", ".join(FLASH_ATTENTION + MASKED_ATTENTION)}; attn_impl {impl!r} would let every row '
                           'attend to the rows packed before it')
    if impl == 'flex_attention' and not cuda:
        raise PackingError(f'--{feature} with attn_impl flex_attention needs a GPU: PyTorch has no flex_attention '
                           'backward on the CPU (use sdpa)')


def allow_masked_attention(sft_arguments_cls, model_type: str) -> None:
    """Let swift's SftArguments accept --packing/--padding_free with sdpa, eager or flex_attention for MODEL_TYPE."""
    swift_check = sft_arguments_cls._check_padding_free

    def check_padding_free(args) -> None:
        if not (args.padding_free or args.packing) or args.model_type != model_type:
            return swift_check(args)
        import torch
        check_attention(args.attn_impl, 'packing' if args.packing else 'padding_free', torch.cuda.is_available())
        args.padding_free = True  # packing implies it, as in swift's own check

    sft_arguments_cls._check_padding_free = check_padding_free
