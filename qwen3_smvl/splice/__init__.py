"""Stage 1, splice: the splice of two donor folders into one SmolVLM checkpoint, and the random donors tests use."""
