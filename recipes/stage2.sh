#!/usr/bin/env bash
# Stage 2: from the stage-1 checkpoint, train the LLM (full, LoRA or DoRA) with the connector, and optionally the
# last VIT_LAST_N vision layers; LoRA/DoRA runs end with `swift export --merge_lora` to a standalone checkpoint.
#   MODEL=runs/stage1/checkpoint-N TUNER=lora OUTPUT_DIR=runs/stage2 bash recipes/stage2.sh [extra swift sft args]
set -euo pipefail
MODEL=${MODEL:-runs/stage1/last-checkpoint}
OUTPUT_DIR=${OUTPUT_DIR:-runs/stage2}
TUNER=${TUNER:-lora}                     # full | lora | dora
LR=${LR:-}                               # default: 1e-5 full, 1e-4 lora/dora
VIT_LAST_N=${VIT_LAST_N:-0}              # also train the last N vision layers and the post-layernorm (one seed: 4)
LORA_RANK=${LORA_RANK:-16}
LORA_ALPHA=${LORA_ALPHA:-32}
MERGED_DIR=${MERGED_DIR:-$OUTPUT_DIR-merged}
FROM_SPLICE=${FROM_SPLICE:-false}         # true: allow MODEL to be a fresh splice (its connector still random)
# Only tools/build_model.py writes the manifest: a fresh splice's random connector would train the LLM on noise.
if [ -f "$MODEL/qwen3_smvl_manifest.json" ] && [ "$FROM_SPLICE" != true ]; then
  echo "error: MODEL=$MODEL is a fresh splice (its connector is random): run recipes/stage1.sh on it first," \
       "or set FROM_SPLICE=true to train it from here anyway" >&2
  exit 2
fi
STAGE_TRAINS=$TUNER                      # what trains, for the memory estimate behind GRADIENT_CHECKPOINTING=auto
source "$(dirname "$0")/common.sh"

# The vision modules to unfreeze, by name: model.vision_model.encoder.layers.K ... and post_layernorm.
vit_modules=()
if [ "$VIT_LAST_N" -gt 0 ]; then
  layers=$(python -c "import json,sys; print(json.load(open(sys.argv[1]+'/config.json'))['vision_config']['num_hidden_layers'])" "$MODEL")
  for ((k = layers - VIT_LAST_N; k < layers; k++)); do vit_modules+=("model.vision_model.encoder.layers.$k"); done
  vit_modules+=(model.vision_model.post_layernorm)
fi

case "$TUNER" in
  full)
    tuner_args=(--tuner_type full --freeze_llm false --freeze_aligner false --freeze_vit true
                --learning_rate "${LR:-1e-5}")
    [ ${#vit_modules[@]} -gt 0 ] && tuner_args+=(--trainable_parameters "${vit_modules[@]}") ;;
  lora|dora)
    # LoRA on the LLM's linears; the connector (and unfrozen ViT layers) train in full via modules_to_save.
    tuner_args=(--tuner_type lora --freeze_llm false --freeze_aligner true --freeze_vit true
                --target_modules all-linear --lora_rank "$LORA_RANK" --lora_alpha "$LORA_ALPHA"
                --modules_to_save model.connector "${vit_modules[@]}" --learning_rate "${LR:-1e-4}")
    [ "$TUNER" = dora ] && tuner_args+=(--use_dora true) ;;
  *) echo "TUNER must be full, lora or dora (got $TUNER)" >&2; exit 2 ;;
esac

train "${tuner_args[@]}" "$@"

if [ "$TUNER" != full ]; then
  # A standalone checkpoint that plain transformers loads (and vLLM serves), written atomically: a killed merge
  # leaves no MERGED_DIR, and re-running this recipe finishes it.
  python "$REPO/tools/merge_lora.py" --adapters "$OUTPUT_DIR/last-checkpoint" --out "$MERGED_DIR"
fi
report
