#!/usr/bin/env bash
# Stage 3: reward (GRPO) or preference (DPO) training with `swift rlhf` on a stage-2 model (merged, or full).
#   MODEL=runs/stage2-merged DATASET=runs/rl/train.jsonl RLHF_TYPE=grpo bash recipes/stage3.sh [extra swift rlhf args]
# GRPO rows carry the truth in a `solution` column (tools/make_dataset.py); DPO rows a `rejected_response`
# (tools/make_preferences.py). Rewards: qwen3_smvl/rl/rewards.py (box_iou, box_format, answer_match, think_format).
set -euo pipefail
MODEL=${MODEL:-runs/stage2-merged}
OUTPUT_DIR=${OUTPUT_DIR:-runs/stage3}
RLHF_TYPE=${RLHF_TYPE:-grpo}             # grpo | dpo
TUNER=${TUNER:-lora}                     # full | lora (LoRA runs end merged, as stage 2's)
LR=${LR:-}                               # default: 1e-6 full, 1e-5 lora
LORA_RANK=${LORA_RANK:-16}
LORA_ALPHA=${LORA_ALPHA:-32}
FREEZE_VIT=${FREEZE_VIT:-true}
FREEZE_ALIGNER=${FREEZE_ALIGNER:-true}
BETA=${BETA:-}                           # KL weight; default: 0 for grpo (no reference model), 0.1 for dpo
# GRPO
REWARD_FUNCS=${REWARD_FUNCS:-box_iou box_format}   # space-separated names registered by the plugin
REWARD_WEIGHTS=${REWARD_WEIGHTS:-}                 # space-separated, one per reward; empty: all 1
NUM_GENERATIONS=${NUM_GENERATIONS:-4}              # completions per prompt; must divide the generation batch
TEMPERATURE=${TEMPERATURE:-1.0}
TOP_K=${TOP_K:-20}                                 # Qwen3's sampling (its generation_config); swift's own default,
TOP_P=${TOP_P:-0.95}                               # the whole vocabulary (-1, 1.0), lets a small model babble
MAX_COMPLETION_LENGTH=${MAX_COMPLETION_LENGTH:-64}
DYNAMIC_SAMPLE=${DYNAMIC_SAMPLE:-false}            # true: DAPO's resampling of groups whose rewards all agree (no signal)
MAX_RESAMPLE_TIMES=${MAX_RESAMPLE_TIMES:-3}        # with DYNAMIC_SAMPLE: rounds of fresh prompts per step, at most
USE_VLLM=${USE_VLLM:-false}                        # true: rollouts by vLLM (GPU)
VLLM_MODE=${VLLM_MODE:-colocate}                   # colocate | server (with `swift rollout`)
VLLM_GPU_MEMORY_UTILIZATION=${VLLM_GPU_MEMORY_UTILIZATION:-0.4}
MERGED_DIR=${MERGED_DIR:-$OUTPUT_DIR-merged}
PADDING_FREE=${PADDING_FREE:-false}               # rlhf batches are padded (swift's GRPO and DPO collators)
TOKEN_ACC=${TOKEN_ACC:-off}                        # sft's token accuracy: no labels to score in rlhf
SAMPLE_STEPS=${SAMPLE_STEPS:-0}                    # answers while training (as stage 1 and 2); 0: off
STAGE_TRAINS=$TUNER
SWIFT_COMMAND=rlhf
source "$(dirname "$0")/common.sh"

case "$TUNER" in
  full) tuner_args=(--tuner_type full --learning_rate "${LR:-1e-6}") ;;
  lora) tuner_args=(--tuner_type lora --target_modules all-linear --lora_rank "$LORA_RANK" --lora_alpha "$LORA_ALPHA"
                    --learning_rate "${LR:-1e-5}") ;;
  *) echo "TUNER must be full or lora (got $TUNER)" >&2; exit 2 ;;
esac
tuner_args+=(--freeze_llm false --freeze_vit "$FREEZE_VIT" --freeze_aligner "$FREEZE_ALIGNER")

case "$RLHF_TYPE" in
  grpo)
    rlhf_args=(--rlhf_type grpo --reward_funcs $REWARD_FUNCS --num_generations "$NUM_GENERATIONS"
               --temperature "$TEMPERATURE" --top_k "$TOP_K" --top_p "$TOP_P"
               --max_completion_length "$MAX_COMPLETION_LENGTH" --beta "${BETA:-0}"
               --use_vllm "$USE_VLLM" --log_completions true
               --dynamic_sample "$DYNAMIC_SAMPLE" --max_resample_times "$MAX_RESAMPLE_TIMES")
    [ -n "$REWARD_WEIGHTS" ] && rlhf_args+=(--reward_weights $REWARD_WEIGHTS)
    # rows the rewards could not score (no solution, no box in it) are named here, before any model loads
    repo_python -m qwen3_smvl.rl.solutions --reward-funcs $REWARD_FUNCS --dataset $DATASET || exit 2
    [ "$USE_VLLM" = true ] && rlhf_args+=(--vllm_mode "$VLLM_MODE"
                                          --vllm_gpu_memory_utilization "$VLLM_GPU_MEMORY_UTILIZATION") ;;
  dpo) rlhf_args=(--rlhf_type dpo --beta "${BETA:-0.1}") ;;
  *) echo "RLHF_TYPE must be grpo or dpo (got $RLHF_TYPE)" >&2; exit 2 ;;
esac

train "${rlhf_args[@]}" "${tuner_args[@]}" "$@"

if [ "$TUNER" = lora ]; then
  python "$REPO/tools/merge_lora.py" --adapters "$OUTPUT_DIR/last-checkpoint" --out "$MERGED_DIR"
fi
report
