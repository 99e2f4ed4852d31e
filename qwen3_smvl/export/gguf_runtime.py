"""An exported GGUF folder (tools/export_gguf.py) run with llama-cpp-python alone: picture + question -> greedy answer.

The loop llama-cpp-python's MTMDChatHandler runs, with the prompt's token ids in view:
  1 the GGUF's chat template renders the turn, mtmd's media marker where the picture goes (as the handler does)
  2 mtmd tokenizes it: text chunks, and for the picture its tiles and global view between SmolVLM's strings
  3 text chunks go through the model, image chunks through mtmd's vision encoder into the same cache
  4 greedy decoding on the text model's logits until an end-of-generation token
"""
import ctypes
import io
import os
from pathlib import Path
from typing import List, Optional

import numpy as np
from PIL import Image

from qwen3_smvl.export.gguf import file_names
from qwen3_smvl.tokens import IMAGE_TOKEN


class GgufVLM:
    def __init__(self, folder, quant_type: str = 'f16', name: str = 'qwen3-smvl', threads: Optional[int] = None,
                 n_ctx: int = 4096):
        import llama_cpp
        import llama_cpp.mtmd_cpp as mtmd
        self.mtmd, self.llama_cpp = mtmd, llama_cpp
        names = file_names(name, quant_type)
        folder = Path(folder)
        threads = threads or os.cpu_count()
        self.llama = llama_cpp.Llama(str(folder / names['model']), n_ctx=n_ctx, n_threads=threads,
                                     n_threads_batch=threads, verbose=False)
        params = mtmd.mtmd_context_params_default()
        params.use_gpu, params.print_timings, params.n_threads = False, False, threads
        self.ctx = mtmd.mtmd_init_from_file(str(folder / names['mmproj']).encode(), self.llama.model, params)
        if not self.ctx:
            raise RuntimeError(f'mtmd could not load {folder / names["mmproj"]}')
        self.llama._stack.callback(mtmd.mtmd_free, self.ctx)  # freed with the model
        self.marker = mtmd.mtmd_default_marker().decode()
        self.image_token_id = self.token(IMAGE_TOKEN)

    def token(self, text: str) -> int:
        ids = self.llama.tokenize(text.encode(), add_bos=False, special=True)
        if len(ids) != 1:
            raise KeyError(f'{text!r} is not one token in the GGUF vocabulary')
        return ids[0]

    def prompt_text(self, n_images: int, question: str) -> str:
        """The GGUF's chat template on one user turn (thinking off), as MTMDChatHandler renders it."""
        from llama_cpp.llama_chat_format import MTMDChatHandler
        content = [{'type': 'image_url', 'image_url': {'url': ''}}] * n_images + [{'type': 'text', 'text': question}]
        message = MTMDChatHandler._convert_message_for_template({'role': 'user', 'content': content}, self.marker)
        from jinja2.sandbox import ImmutableSandboxedEnvironment
        template = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True).from_string(
            self.llama.metadata['tokenizer.chat_template'])
        return template.render(messages=[message], add_generation_prompt=True, enable_thinking=False)

    def bitmap(self, image: Image.Image):
        rgb = np.ascontiguousarray(np.asarray(image.convert('RGB'), dtype=np.uint8))
        data = (ctypes.c_uint8 * rgb.size).from_buffer_copy(rgb.tobytes())
        return self.mtmd.mtmd_bitmap_init(image.width, image.height, data)

    def chunks(self, images: List[Image.Image], question: str):
        """mtmd's chunks for the prompt (free them with mtmd_input_chunks_free)."""
        text = self.prompt_text(len(images), question).encode()
        bitmaps = [self.bitmap(image) for image in images]
        try:
            prompt = self.mtmd.mtmd_input_text()
            prompt.text, prompt.text_len, prompt.add_special, prompt.parse_special = text, len(text), True, True
            chunks = self.mtmd.mtmd_input_chunks_init()
            array = (self.mtmd.mtmd_bitmap_p_ctypes * len(bitmaps))(*bitmaps)
            result = self.mtmd.mtmd_tokenize(self.ctx, chunks, ctypes.byref(prompt), array, len(bitmaps))
            if result != 0:
                self.mtmd.mtmd_input_chunks_free(chunks)
                raise ValueError(f'mtmd_tokenize failed (code {result})')
            return chunks
        finally:
            for bitmap in bitmaps:
                self.mtmd.mtmd_bitmap_free(bitmap)

    def each_chunk(self, chunks):
        """(text token ids or None, number of positions) per chunk."""
        for i in range(self.mtmd.mtmd_input_chunks_size(chunks)):
            chunk = self.mtmd.mtmd_input_chunks_get(chunks, i)
            if self.mtmd.mtmd_input_chunk_get_type(chunk) == self.mtmd.MTMD_INPUT_CHUNK_TYPE_TEXT:
                n = ctypes.c_size_t()
                ids = self.mtmd.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(n))
                yield chunk, [ids[j] for j in range(n.value)]
            else:
                yield chunk, None

    def prompt_ids(self, images: List[Image.Image], question: str) -> List[int]:
        """The prompt as token ids, each image chunk written as one <|image_pad|> per image embedding."""
        chunks = self.chunks(images, question)
        try:
            return [t for chunk, ids in self.each_chunk(chunks) for t in (
                ids if ids is not None else [self.image_token_id] * self.mtmd.mtmd_input_chunk_get_n_tokens(chunk))]
        finally:
            self.mtmd.mtmd_input_chunks_free(chunks)

    def prefill(self, images: List[Image.Image], question: str) -> np.ndarray:
        """The prompt through the model and the vision encoder: the logits after it."""
        chunks = self.chunks(images, question)
        llama = self.llama
        llama.reset()
        llama._ctx.kv_cache_clear()
        try:
            for chunk, ids in self.each_chunk(chunks):
                if ids is not None:
                    llama.eval(ids)
                    continue
                new_n_past = self.llama_cpp.llama_pos(0)
                result = self.mtmd.mtmd_helper_eval_chunk_single(
                    self.ctx, llama._ctx.ctx, chunk, self.llama_cpp.llama_pos(llama.n_tokens),
                    self.llama_cpp.llama_seq_id(0), llama.n_batch, False, ctypes.byref(new_n_past))
                if result != 0:
                    raise ValueError(f'mtmd could not evaluate an image chunk (code {result})')
                llama.n_tokens = new_n_past.value
        finally:
            self.mtmd.mtmd_input_chunks_free(chunks)
        return self.last_logits()

    def last_logits(self) -> np.ndarray:
        logits = self.llama_cpp.llama_get_logits_ith(self.llama._ctx.ctx, -1)
        return np.ctypeslib.as_array(logits, shape=(self.llama.n_vocab(), )).copy()

    def decode(self, logits: np.ndarray, max_new_tokens: int, stop_tokens: Optional[set] = None) -> List[int]:
        """Greedy tokens after a prefill, ending at (not including) one of STOP_TOKENS (default: the GGUF's
        end-of-generation tokens; an empty set: never)."""
        tokens = []
        for _ in range(max_new_tokens):
            token = int(logits.argmax())
            if token in stop_tokens if stop_tokens is not None else self.end_of_generation(token):
                break
            tokens.append(token)
            self.llama.eval([token])
            logits = self.last_logits()
        return tokens

    def end_of_generation(self, token: int) -> bool:
        return self.llama_cpp.llama_vocab_is_eog(self.llama._model.vocab, token)

    def generate(self, images: List[Image.Image], question: str, max_new_tokens: int = 32,
                 stop_tokens: Optional[set] = None) -> List[int]:
        return self.decode(self.prefill(images, question), max_new_tokens, stop_tokens)

    def answer(self, images: List[Image.Image], question: str, max_new_tokens: int = 32) -> str:
        tokens = self.generate(images, question, max_new_tokens)
        return self.llama.detokenize(tokens).decode('utf-8', errors='replace')


def data_url(image: Image.Image) -> str:
    """A PNG data URL, as the OpenAI chat API (and llama-cpp-python's chat handlers) take pictures."""
    import base64
    buffer = io.BytesIO()
    image.save(buffer, format='PNG')
    return 'data:image/png;base64,' + base64.b64encode(buffer.getvalue()).decode()
