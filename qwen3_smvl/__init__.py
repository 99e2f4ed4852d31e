"""Qwen3-SmVL: SmolVLM2's vision tower and connector in front of Qwen3, as a standard transformers checkpoint.

Subpackages follow the stages a user walks through: splice -> datasets -> train -> serve -> evaluate -> export;
a stage imports only earlier stages and the shared modules here (docs/architecture.md).
"""
from pathlib import Path

DATA_DIR = Path(__file__).parent / 'data'
REPO = Path(__file__).resolve().parent.parent  # recipes/ and plugin/ beside the package (an editable install)
