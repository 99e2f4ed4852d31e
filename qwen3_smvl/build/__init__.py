"""Stage 1, build: the splice of two donor folders into one SmolVLM checkpoint, and the random donors tests use."""
