"""Token strings of the spliced model: the one place they are written down.

Ids are never written here: they are read from whichever tokenizer is in hand.
"""

# Qwen's vision tokens take the roles that SmolVLM's processor gives its own image tokens.
IMAGE_TOKEN = '<|image_pad|>'  # SmolVLM's <image>: one per image feature row
FAKE_IMAGE_TOKEN = '<|vision_start|>'  # SmolVLM's <fake_token_around_image>: opens every tile, closes the image
GLOBAL_IMAGE_TOKEN = '<|vision_pad|>'  # SmolVLM's <global-img>: marks the downscaled whole image
VIDEO_TOKEN = '<|video_pad|>'
# SmolVLM's own strings for those two roles, which llama.cpp's mtmd writes around idefics3 images and looks up in
# the text vocabulary: the GGUF export gives them to the two tokens above (qwen3_smvl/export/gguf.py).
SMOLVLM_FAKE_IMAGE_TOKEN = '<fake_token_around_image>'
SMOLVLM_GLOBAL_IMAGE_TOKEN = '<global-img>'
END_OF_UTTERANCE_TOKEN = '<|im_end|>'

IM_START = '<|im_start|>'
IM_END = '<|im_end|>'
END_OF_TEXT = '<|endoftext|>'
THINK_START = '<think>'
THINK_END = '</think>'
TOOL_CALL_START = '<tool_call>'  # Qwen3's (hermes) tool calls: <tool_call>{json}</tool_call>

# Qwen's grounding format (Qwen2.5-VL's):
#   <|object_ref_start|>ref<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>
OBJECT_REF_START = '<|object_ref_start|>'
OBJECT_REF_END = '<|object_ref_end|>'
BOX_START = '<|box_start|>'
BOX_END = '<|box_end|>'

# Attribute names SmolVLMProcessor reads off the tokenizer (tokenizer_config.json keys).
PROCESSOR_TOKENS = {
    'image_token': IMAGE_TOKEN,
    'fake_image_token': FAKE_IMAGE_TOKEN,
    'global_image_token': GLOBAL_IMAGE_TOKEN,
    'video_token': VIDEO_TOKEN,
    'end_of_utterance_token': END_OF_UTTERANCE_TOKEN,
}

# A Qwen tokenizer must know all of these to be spliced.
REQUIRED_TOKENS = (IM_START, IM_END, END_OF_TEXT, THINK_START, THINK_END, IMAGE_TOKEN, FAKE_IMAGE_TOKEN,
                   GLOBAL_IMAGE_TOKEN, VIDEO_TOKEN, OBJECT_REF_START, OBJECT_REF_END, BOX_START, BOX_END)


def token_id(tokenizer, token: str) -> int:
    """The id of a single known token; raises instead of silently falling back to unk."""
    # Qwen's unk is <|endoftext|>, so convert_tokens_to_ids would map an unknown token to a valid id.
    found = tokenizer.get_vocab().get(token)
    if found is None:
        raise KeyError(f'tokenizer has no token {token!r}')
    return found


def missing_tokens(tokenizer) -> list:
    vocab = tokenizer.get_vocab()
    return [t for t in REQUIRED_TOKENS if t not in vocab]
