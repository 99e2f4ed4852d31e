"""Stage 3, train: what the plugin adds to `swift sft` (bad-row accounting, sample answers) and the LoRA merge."""
