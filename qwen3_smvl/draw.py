"""Boxes drawn on a picture with their labels, in a font that has Chinese glyphs."""
import functools
import logging
import os
import subprocess
from typing import Iterable, Optional, Tuple

from PIL import Image, ImageDraw, ImageFont

logger = logging.getLogger('qwen3_smvl')
LabelledBox = Tuple[Tuple[float, float, float, float], Optional[str], str]  # pixel box, label, colour


@functools.lru_cache(maxsize=None)
def cjk_font_file() -> Optional[str]:
    """SMVL_FONT, else the first font fontconfig lists for Chinese (Debian: fonts-wqy-microhei, fonts-noto-cjk)."""
    if os.environ.get('SMVL_FONT'):
        return os.environ['SMVL_FONT']
    try:
        listed = subprocess.run(['fc-list', ':lang=zh', 'file'], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        listed = ''
    files = sorted(line.split(':')[0].strip() for line in listed.splitlines() if line.strip())
    if not files:
        logger.warning('no Chinese font found: labels will show as boxes. Install one (apt-get install '
                       'fonts-wqy-microhei) or set SMVL_FONT to a .ttf/.ttc file')
    return files[0] if files else None


def cjk_font(size: int) -> ImageFont.FreeTypeFont:
    font_file = cjk_font_file()
    return ImageFont.truetype(font_file, size) if font_file else ImageFont.load_default(size)


def draw_boxes(image: Image.Image, boxes: Iterable[LabelledBox], width: int = 2) -> Image.Image:
    """A copy of the image with each box outlined in its colour and its label above it (inside when at the top)."""
    image = image.convert('RGB')
    font_size = max(12, min(image.size) // 20)
    font = cjk_font(font_size)
    draw = ImageDraw.Draw(image)
    for (x1, y1, x2, y2), label, colour in boxes:
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        if label:
            top = y1 - font_size - 2 if y1 >= font_size + 2 else y1 + width
            left, upper, right, lower = draw.textbbox((x1 + width, top), label, font=font)
            draw.rectangle((left - 1, upper - 1, right + 1, lower + 1), fill=colour)
            draw.text((x1 + width, top), label, fill='white', font=font)
    return image
