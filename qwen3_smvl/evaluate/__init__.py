"""Stage 5, evaluate: accuracy of a checkpoint on swift jsonl splits, answers and boxes."""
