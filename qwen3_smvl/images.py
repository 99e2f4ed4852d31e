"""Open an image from a path, bytes, a base64 data URL or a PIL image, refusing what would hurt before decoding it.

Training and serving both go through here, so a corrupt file, a truncated upload or a decompression bomb gives the
same clear error in both, before any pixel is decoded.
"""
import base64
import binascii
import io
import os
from pathlib import Path
from typing import Union

from PIL import Image

# Limits, overridable by environment variable: 64 Mpx (8192x8192) and 32 MiB encoded.
MAX_IMAGE_PIXELS = int(os.environ.get('SMVL_MAX_IMAGE_PIXELS', 8192 * 8192))
MAX_IMAGE_BYTES = int(os.environ.get('SMVL_MAX_IMAGE_BYTES', 32 * 2**20))

ImageSource = Union[str, bytes, Path, Image.Image, dict]


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


def read_bytes(source: ImageSource, max_bytes: int) -> bytes:
    if isinstance(source, dict):  # datasets' Image feature
        source = source.get('bytes') or source.get('path')
    if isinstance(source, bytes):
        data = source
    elif isinstance(source, (str, Path)) and str(source).startswith('data:'):
        header, _, payload = str(source).partition(',')
        if ';base64' not in header:
            raise ImageError('data URL is not base64-encoded')
        if len(payload) * 3 // 4 > max_bytes:
            raise ImageError(f'image is over {max_bytes} bytes', 'image too large')
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as e:
            raise ImageError(f'invalid base64 image data: {e}') from e
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
    """Decode to RGB, or raise ImageError naming the source and the reason."""
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
        return image if image.mode == 'RGB' else image.convert('RGB')
    except ImageError as e:
        raise ImageError(f'{describe(source)}: {e}', e.cause) from None
    except Image.DecompressionBombError as e:  # PIL's own bound, met while reading the header
        raise ImageError(f'{describe(source)}: {e}', 'image too large') from None
    except (OSError, SyntaxError) as e:
        raise ImageError(f'{describe(source)}: not a readable image ({e})') from None


def fit_within(image: Image.Image, longest_edge: int) -> Image.Image:
    """Downscale so that the longest side is at most longest_edge; never upscale."""
    width, height = image.size
    scale = longest_edge / max(width, height)
    if scale >= 1:
        return image
    return image.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.LANCZOS)
