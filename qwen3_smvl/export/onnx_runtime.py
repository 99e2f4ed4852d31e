"""An exported folder (tools/export_onnx.py) run with onnxruntime alone: picture + question -> greedy answer.

This is the loop an app developer ports (to onnxruntime-mobile, onnxruntime-web, transformers.js' own):
  1 the processor turns the chat and the picture into input_ids (one <|image_pad|> per image feature) and tiles
  2 embed_tokens embeds the ids; vision_encoder turns the tiles into features, which replace the image-pad rows
  3 decoder_model_merged runs on the embeddings with an empty cache, then one token at a time with the cache it returns
"""
import json
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
from PIL import Image
from transformers import AutoProcessor

from qwen3_smvl.export.onnx_graphs import GRAPHS, past_names
from qwen3_smvl.images import fit_within, open_image, upscales


class OnnxVLM:
    def __init__(self, folder, quantization: Optional[str] = None, threads: int = 0):
        import onnxruntime as ort
        folder = Path(folder)
        self.processor = AutoProcessor.from_pretrained(folder)
        # the recipes' image policy, as in training: SMVL_UPSCALE=false shrinks to the longest edge and never upscales
        self.upscale = upscales()
        self.processor.image_processor.do_resize = self.upscale
        config = json.loads((folder / 'config.json').read_text())
        text = config['text_config']
        self.image_token_id = config['image_token_id']
        self.layers, self.kv_heads = text['num_hidden_layers'], text['num_key_value_heads']
        self.head_dim = text.get('head_dim') or text['hidden_size'] // text['num_attention_heads']
        generation = json.loads((folder / 'generation_config.json').read_text())
        eos = generation.get('eos_token_id', config.get('eos_token_id'))
        self.eos = set(eos if isinstance(eos, list) else [eos])
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # 0: onnxruntime's choice
        suffix = f'_{quantization}' if quantization else ''
        self.sessions = {graph: ort.InferenceSession(str(folder / 'onnx' / f'{graph}{suffix}.onnx'), options,
                                                     providers=['CPUExecutionProvider']) for graph in GRAPHS}

    def encode(self, images: List[Image.Image], question: str) -> Dict[str, np.ndarray]:
        """The processor's input_ids and tiles for one user turn (thinking off), as numpy arrays."""
        images = [open_image(image) for image in images]  # the picture training and serving see: upright 8-bit RGB
        content = [{'type': 'image'} for _ in images] + [{'type': 'text', 'text': question}]
        prompt = self.processor.apply_chat_template([{'role': 'user', 'content': content}], add_generation_prompt=True,
                                                    enable_thinking=False)
        if not self.upscale:
            images = [fit_within(image, self.processor.image_processor.size['longest_edge']) for image in images]
        return dict(self.processor(text=prompt, images=images or None, return_tensors='np'))

    def prompt_embeddings(self, inputs: Dict[str, np.ndarray]) -> np.ndarray:
        embeds = self.sessions['embed_tokens'].run(None, {'input_ids': inputs['input_ids']})[0]
        if 'pixel_values' in inputs:
            features = self.sessions['vision_encoder'].run(None, {
                'pixel_values': inputs['pixel_values'].astype(np.float32),
                'pixel_attention_mask': inputs['pixel_attention_mask'].astype(bool)})[0]
            slots = inputs['input_ids'] == self.image_token_id
            if slots.sum() != features.shape[0] * features.shape[1]:
                raise ValueError(f'{slots.sum()} image tokens in the prompt, {features.shape[0] * features.shape[1]} '
                                 'image features: the processor and the vision encoder disagree')
            embeds[slots] = features.reshape(-1, features.shape[-1])
        return embeds

    def step(self, embeds: np.ndarray, past: Optional[List[np.ndarray]], seen: int):
        """Logits of the new positions and the cache after them; `seen` positions are in `past` already."""
        new = embeds.shape[1]
        if past is None:  # the first step: an empty cache, so the same graph serves both
            past = [np.zeros((1, self.kv_heads, 0, self.head_dim), np.float32) for _ in range(2 * self.layers)]
        feeds = {'inputs_embeds': embeds, 'attention_mask': np.ones((1, seen + new), np.int64),
                 'position_ids': np.arange(seen, seen + new, dtype=np.int64)[None],
                 **dict(zip(past_names(self.layers), past))}
        logits, *present = self.sessions['decoder_model_merged'].run(None, feeds)
        return logits, present

    def prefill(self, images: List[Image.Image], question: str):
        """The prompt through the three graphs: the logits after it, the cache, and the positions it holds."""
        embeds = self.prompt_embeddings(self.encode(images, question))
        logits, past = self.step(embeds, None, 0)
        return logits, past, embeds.shape[1]

    def first_logits(self, images: List[Image.Image], question: str) -> np.ndarray:
        """The logits of the first answer token."""
        return self.prefill(images, question)[0][0, -1]

    def decode(self, logits: np.ndarray, past: List[np.ndarray], seen: int, max_new_tokens: int,
               stop_tokens=frozenset()) -> List[int]:
        """Greedy tokens after a prefill, one decoder step each, ending at (not including) one of stop_tokens."""
        tokens = []
        for _ in range(max_new_tokens):
            token = int(logits[0, -1].argmax())
            if token in stop_tokens:
                break
            tokens.append(token)
            next_embeds = self.sessions['embed_tokens'].run(None, {'input_ids': np.array([[token]], np.int64)})[0]
            logits, past = self.step(next_embeds, past, seen)
            seen += 1
        return tokens

    def generate(self, images: List[Image.Image], question: str, max_new_tokens: int = 32) -> List[int]:
        """Greedy answer token ids, ending at (not including) an end-of-turn token."""
        return self.decode(*self.prefill(images, question), max_new_tokens, self.eos)

    def answer(self, images: List[Image.Image], question: str, max_new_tokens: int = 32) -> str:
        tokens = self.generate(images, question, max_new_tokens)
        return self.processor.tokenizer.decode(tokens, skip_special_tokens=True)
