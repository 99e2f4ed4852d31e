"""Qwen3-SmVL: SmolVLM2's vision tower and connector in front of Qwen3, as a standard transformers checkpoint."""
from pathlib import Path

DATA_DIR = Path(__file__).parent / 'data'
