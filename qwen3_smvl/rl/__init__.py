"""Stage 3: reward and preference training (swift rlhf) on a stage-2 model."""
