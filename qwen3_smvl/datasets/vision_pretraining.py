"""A toy vision donor that starts out seeing, as SmolVLM2's trained tower does: its tower taught, patch by patch, the
colour and the shape under each patch of the synthetic pictures, for a few hundred steps.

The demo's donors are random. A random tower that trains with the LLM learnt shapes and lost colours, and one
slowed down kept colours and never learnt shapes (docs/performance.md). This gives the demo what the real donor has.
Labels come from the crops the tower sees (tiles and global view, after the donor's own image processor): a patch
mostly off white is covered, by the scene's colour and shape. Only the tower's weights change; the head that
reads them is dropped.
"""
import logging
import random
import shutil
from pathlib import Path
from typing import Dict

import torch
import torch.nn.functional as F
from transformers import AutoModelForImageTextToText, AutoProcessor

from ..atomic import atomic_folder
from .synthetic import COLOURS, SHAPES, draw, grid_centres, random_picture, side_centres

log = logging.getLogger(__name__)


def pictures(n: int, size: int, seed: int, held_out: bool = False):
    """(picture, colour index, shape index) of N scenes, in both of the set's layouts; HELD_OUT: only the held-out
    pictures of the synthetic sets (the tower never trains on those), else none of them."""
    rng = random.Random(seed)
    for i in range(n):
        scene, centres = random_picture(rng, size, grid_centres if i % 2 else side_centres, held_out)
        image, _ = draw(scene, centres, size)
        yield image, list(COLOURS).index(scene.colour), SHAPES.index(scene.shape)


def patch_labels(crops: torch.Tensor, colour: int, shape: int, patch: int, mean, std) -> tuple:
    """Per patch of CROPS (n, 3, h, w, normalised): colour and shape class, 0 where the patch is mostly white."""
    rgb = crops * torch.tensor(std).view(1, 3, 1, 1) + torch.tensor(mean).view(1, 3, 1, 1)
    off_white = (rgb < 0.8).any(1, keepdim=True).float()
    covered = (F.avg_pool2d(off_white, patch) >= 0.5).flatten(1).long()  # (n, patches) in the tower's order
    return covered * (colour + 1), covered * (shape + 1)


def pretrain_vision(donor: Path, steps: int, n_pictures: int = 2000, size: int = 64, seed: int = 40_000,
                    batch: int = 64, lr: float = 3e-3) -> Dict[str, float]:
    """Train DONOR's (a SmolVLM2 folder) vision tower STEPS steps in place; the held-out patch accuracies."""
    torch.manual_seed(seed)
    processor = AutoProcessor.from_pretrained(donor).image_processor
    model = AutoModelForImageTextToText.from_pretrained(donor)
    tower = model.model.vision_model

    def crops_and_labels(n: int, seed: int, held_out: bool):  # every crop of N pictures, with its patches' labels
        crops, colours, shapes = [], [], []
        for image, colour, shape in pictures(n, size, seed, held_out):
            x = processor(images=[[image]], return_tensors='pt')['pixel_values'][0]
            c, s = patch_labels(x, colour, shape, tower.config.patch_size, processor.image_mean, processor.image_std)
            crops.append(x)
            colours.append(c)
            shapes.append(s)
        return (torch.cat(t) for t in (crops, colours, shapes))

    x, yc, ys = crops_and_labels(n_pictures - n_pictures // 10, seed, held_out=False)
    hx, hc, hs = crops_and_labels(n_pictures // 10, seed + 1, held_out=True)  # a tenth: the held-out pictures
    head = torch.nn.Linear(tower.config.hidden_size, len(COLOURS) + 1 + len(SHAPES) + 1)
    optimizer = torch.optim.AdamW([*tower.parameters(), *head.parameters()], lr=lr)

    def logits(pixels):  # colour and shape logits per patch
        both = head(tower(pixel_values=pixels).last_hidden_state)
        return both[..., :len(COLOURS) + 1], both[..., len(COLOURS) + 1:]

    for step in range(1, steps + 1):
        idx = torch.randint(0, len(x), (batch,))
        colour_logits, shape_logits = logits(x[idx])
        loss = F.cross_entropy(colour_logits.flatten(0, 1), yc[idx].flatten()) + \
            F.cross_entropy(shape_logits.flatten(0, 1), ys[idx].flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 100 == 0 or step == steps:
            log.info('vision pre-training step %d/%d: loss %.3f', step, steps, loss.item())
    with torch.no_grad():
        colour_logits, shape_logits = logits(hx)
    covered = hc > 0
    accuracy = {'colour': (colour_logits.argmax(-1) == hc)[covered].float().mean().item(),
                'shape': (shape_logits.argmax(-1) == hs)[covered].float().mean().item()}
    with atomic_folder(donor) as tmp:
        shutil.copytree(donor, tmp, dirs_exist_ok=True)
        model.save_pretrained(tmp)
    log.info('vision donor %s: held-out covered patches, colour %.1f%%, shape %.1f%% right', donor,
             100 * accuracy['colour'], 100 * accuracy['shape'])
    return accuracy
