#!/usr/bin/env bash
# Stage 1: train only the connector (vision tower and LLM frozen) on image-text pairs.
#   MODEL=runs/spliced DATASET=data.jsonl OUTPUT_DIR=runs/stage1 bash recipes/stage1.sh [extra swift sft args]
set -euo pipefail
MODEL=${MODEL:-runs/demo/spliced}        # a tools/build_model.py output
OUTPUT_DIR=${OUTPUT_DIR:-runs/stage1}
# 1e-3, LLaVA's projector-pretraining rate: the connector starts from random, and nothing else moves.
# (ms-swift's 5e-6 best-practice rate is for fine-tuning trained weights; at 1e-4 the seed article's
# projector barely moved in a short run.)
LR=${LR:-1e-3}
STAGE_TRAINS=connector                   # what trains, for the memory estimate behind GRADIENT_CHECKPOINTING=auto
source "$(dirname "$0")/common.sh"

train \
  --tuner_type full --freeze_vit true --freeze_llm true --freeze_aligner false \
  --learning_rate "$LR" "$@"
report
