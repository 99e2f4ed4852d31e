"""Open an image from a path, bytes, a base64 data URL or a PIL image, refusing what would hurt before decoding it.

Training, serving (both backends), eval, the web page, the ONNX runtime and the preview all go through here, so a
corrupt file, a truncated upload or a decompression bomb gives the same clear error everywhere, before any pixel is
decoded, and every image becomes the same picture everywhere: 8-bit RGB, the right way up, as a viewer shows it
(`to_rgb` says how each mode is turned into it).
"""
import base64
import binascii
import io
import os
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps

# Limits, overridable by environment variable: 64 Mpx (8192x8192) and 32 MiB encoded.
MAX_IMAGE_PIXELS = int(os.environ.get('SMVL_MAX_IMAGE_PIXELS', 8192 * 8192))
MAX_IMAGE_BYTES = int(os.environ.get('SMVL_MAX_IMAGE_BYTES', 32 * 2**20))

ImageSource = Union[str, bytes, Path, Image.Image, dict]
WHITE = (255, 255, 255)  # what transparent pixels show, as in a browser or an image viewer


class ImageError(ValueError):
    """An image that cannot or must not be used; the message says which and why, `cause` says it in a few words."""

    def __init__(self, message: str, cause: str = 'unreadable image'):
        super().__init__(message)
        self.cause = cause


def describe(source: ImageSource) -> str:
    if isinstance(source, (str, Path)):
        text = str(source)
        return text if not text.startswith('data:') else f'{text[:40]}... ({len(text)} chars)'
    if isinstance(source, bytes):
        return f'<{len(source)} bytes>'
    if isinstance(source, dict):
        return describe(source.get('path') or source.get('bytes') or '<empty>')
    return f'<{type(source).__name__}>'


def decode_base64(source: str, max_bytes: int, kind: str = 'image', error=ImageError, limit_name: str = '') -> bytes:
    """The bytes of a base64 data URL (or of bare base64), refused past max_bytes before decoding."""
    header, _, payload = source.partition(',') if source.startswith('data:') else ('', '', source)
    if header and ';base64' not in header:
        raise error('data URL is not base64-encoded')
    if len(payload) * 3 // 4 > max_bytes:
        raise error(f'{kind} is over {max_bytes} bytes{limit_name and f" ({limit_name})"}', f'{kind} too large')
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as e:
        raise error(f'invalid base64 {kind} data: {e}') from None


def read_bytes(source: ImageSource, max_bytes: int) -> bytes:
    if isinstance(source, dict):  # datasets' Image feature
        source = source.get('bytes') or source.get('path')
    if isinstance(source, bytes):
        data = source
    elif isinstance(source, (str, Path)) and str(source).startswith('data:'):
        data = decode_base64(str(source), max_bytes)
    elif isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if not path.is_file():
            raise ImageError('image file not found', 'missing image file')
        if path.stat().st_size > max_bytes:
            raise ImageError(f'image file is {path.stat().st_size} bytes, over the {max_bytes}-byte limit',
                             'image too large')
        data = path.read_bytes()
    else:
        raise ImageError(f'unsupported image source type {type(source).__name__}')
    if len(data) > max_bytes:
        raise ImageError(f'image is {len(data)} bytes, over the {max_bytes}-byte limit', 'image too large')
    return data


def open_image(source: ImageSource, max_pixels: int = None, max_bytes: int = None) -> Image.Image:
    """Decode to upright 8-bit RGB (EXIF orientation applied; an animated image's first frame), or raise ImageError
    naming the source and the reason."""
    max_pixels = max_pixels or MAX_IMAGE_PIXELS
    max_bytes = max_bytes or MAX_IMAGE_BYTES
    try:
        if isinstance(source, Image.Image):
            image = source
        else:
            image = Image.open(io.BytesIO(read_bytes(source, max_bytes)))  # reads the header only
        width, height = image.size
        if width * height > max_pixels:
            raise ImageError(f'image is {width}x{height} = {width * height} pixels, over the {max_pixels}-pixel limit',
                             'image too large')
        if width < 1 or height < 1:
            raise ImageError(f'image is {width}x{height}')
        try:
            image.load()
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
            raise ImageError(f'corrupt or truncated image: {e}') from e
        # transformers' load_image does the same: the size anything reads (grounding boxes) is the upright one
        return to_rgb(ImageOps.exif_transpose(image))
    except ImageError as e:
        raise ImageError(f'{describe(source)}: {e}', e.cause) from None
    except Image.DecompressionBombError as e:  # PIL's own bound, met while reading the header
        raise ImageError(f'{describe(source)}: {e}', 'image too large') from None
    except (OSError, SyntaxError) as e:
        raise ImageError(f'{describe(source)}: not a readable image ({e})') from None


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB as a viewer shows the picture: transparency (RGBA, LA, PA, a palette's or a colour key's) over white,
    16- and 32-bit values scaled to 8 bits (`eight_bit`), everything else (L, 1, P, CMYK, YCbCr) by PIL's convert."""
    if image.mode in ('RGBA', 'LA', 'PA', 'RGBa', 'La') or 'transparency' in image.info:
        background = Image.new('RGBA', image.size, WHITE + (255, ))
        return Image.alpha_composite(background, image.convert('RGBA')).convert('RGB')
    if image.mode.startswith('I') or image.mode == 'F':
        return Image.fromarray(eight_bit(image)).convert('RGB')  # uint8, one channel: L
    try:
        return image if image.mode == 'RGB' else image.convert('RGB')
    except ValueError as e:  # a mode PIL cannot turn into RGB (LAB, HSV)
        raise ImageError(f'{image.mode} images are not supported: {e}') from None


def eight_bit(image: Image.Image) -> np.ndarray:
    """A 16- or 32-bit single-channel image scaled, not clipped, to 0-255 (PIL's convert clips: 16-bit turns white).
    16-bit: by its full range (0-65535). 32-bit integers: the same when they fit it (PIL reads some 16-bit files so),
    else their own min-max. Floats: 0-1 as is, else their own min-max."""
    values = np.asarray(image, dtype=np.float32)
    low, high = float(values.min()), float(values.max())
    if image.mode.startswith('I;16') or (image.mode == 'I' and low >= 0 and high <= 65535):
        low, high = 0., 65535.
    elif image.mode == 'F' and low >= 0 and high <= 1:
        low, high = 0., 1.
    scale = 255 / (high - low) if high > low else 0.
    return np.rint((values - low) * scale).astype(np.uint8)


def upscales() -> bool:
    """SMVL_UPSCALE, the image size policy of training, serving and every export (default true): each picture resized
    to the processor's longest edge, then tiled, as SmolVLM2's processor, llama.cpp's mtmd, transformers.js and vLLM
    do by themselves. false: only larger pictures shrink to it (fewer tokens for small pictures; llama.cpp and ollama
    cannot do that, so they would show such a model other tiles than it was trained on: docs/gguf.md)."""
    return os.environ.get('SMVL_UPSCALE', 'true').strip().lower() in ('1', 'true', 'yes', 'on')


def fit_within(image: Image.Image, longest_edge: int) -> Image.Image:
    """Downscale so that the longest side is at most longest_edge; never upscale."""
    width, height = image.size
    scale = longest_edge / max(width, height)
    if scale >= 1:
        return image
    return image.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.LANCZOS)
