"""What the model will be trained on: rows of a dataset as a contact sheet, and their token counts.

Each row is a band of the sheet: its images on the left, its conversation on the right (in a Chinese font, see
qwen3_smvl/draw.py), and above them the row's tokens as the template encodes it for training.
"""
import textwrap
from typing import List

from PIL import Image, ImageDraw, ImageOps

from ..draw import cjk_font
from ..images import ImageError, open_image

WIDTH, THUMB, PAD, FONT_SIZE = 1200, 200, 10, 16
ROLE_NAMES = {'system': '系统', 'user': '用户', 'assistant': '助手'}


def token_stats(template, row: dict) -> dict:
    """Tokens of the row as trained (images expanded to their tiles), or why it would be dropped."""
    image_id = template.image_token_id
    try:
        ids = template.encode(dict(row))['input_ids']
    except Exception as e:  # the reason the training run would drop it
        return {'tokens': None, 'image_tokens': None, 'error': f'{type(e).__name__}: {e}'[:200]}
    return {'tokens': len(ids), 'image_tokens': ids.count(image_id), 'error': None}


def band(row: dict, stats: dict, index: int, font) -> Image.Image:
    images: List[Image.Image] = []
    for image in row.get('images') or []:
        try:
            opened = open_image(image)
        except ImageError as e:
            opened = Image.new('RGB', (THUMB, THUMB), (90, 90, 90))
            ImageDraw.Draw(opened).text((PAD, PAD), textwrap.fill(str(e), 24), fill='white', font=font)
        images.append(ImageOps.contain(opened, (THUMB, THUMB), Image.NEAREST))  # small pictures enlarged too
    header = (f'#{index}  {stats["tokens"]} tokens, {stats["image_tokens"]} image '
              f'({stats["image_tokens"] / stats["tokens"]:.0%})' if stats['tokens'] else
              f'#{index}  dropped in training: {stats["error"]}')
    text_x = PAD + (THUMB + PAD) * max(1, min(len(images), 2))
    columns = max(20, (WIDTH - text_x - PAD) // FONT_SIZE)
    lines = textwrap.wrap(header, columns) + ['']
    header_lines = len(lines) - 1
    for message in row['messages']:
        lines += textwrap.wrap(f'{ROLE_NAMES.get(message["role"], message["role"])}: {message["content"]}',
                               columns) or ['']
    rows_of_images = (len(images) + 1) // 2
    height = max(PAD * 2 + (FONT_SIZE + 4) * len(lines), PAD + (THUMB + PAD) * rows_of_images)
    sheet = Image.new('RGB', (WIDTH, height), 'white')
    draw = ImageDraw.Draw(sheet)
    for k, image in enumerate(images):
        sheet.paste(image, (PAD + (THUMB + PAD) * (k % 2), PAD + (THUMB + PAD) * (k // 2)))
    for k, line in enumerate(lines):
        colour = 'black' if k >= header_lines else 'darkblue'
        draw.text((text_x, PAD + (FONT_SIZE + 4) * k), line, fill=colour, font=font)
    draw.line((0, height - 1, WIDTH, height - 1), fill=(200, 200, 200))
    return sheet


def contact_sheet(rows: List[dict], stats: List[dict]) -> Image.Image:
    font = cjk_font(FONT_SIZE)
    bands = [band(row, s, i, font) for i, (row, s) in enumerate(zip(rows, stats))]
    sheet = Image.new('RGB', (WIDTH, sum(b.height for b in bands)), 'white')
    top = 0
    for b in bands:
        sheet.paste(b, (0, top))
        top += b.height
    return sheet
