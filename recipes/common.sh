# Knobs shared by stage1.sh, stage2.sh and stage3.sh (sourced, not run).
# Every knob is an environment variable with a default.
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The project's environments, GPU first (make venv-gpu), when they exist.
for env in .venv .venv-gpu; do [ -x "$REPO/$env/bin/swift" ] && PATH="$REPO/$env/bin:$PATH"; done
# Passed on every call: the path args.json remembers would break once the repo moves.
PLUGIN="$REPO/plugin/register.py"

DATASET=${DATASET:-$REPO/runs/demo/data/train.jsonl}   # swift dataset ids, ModelScope ids (e.g. the_cauldron subsets) or jsonl, space-separated
VAL_DATASET=${VAL_DATASET:-}                          # optional held-out set for eval
MAX_STEPS=${MAX_STEPS:--1}                            # -1: run NUM_EPOCHS
NUM_EPOCHS=${NUM_EPOCHS:-1}
BATCH_SIZE=${BATCH_SIZE:-8}                           # per device
GRAD_ACC=${GRAD_ACC:-1}                               # set explicitly: swift's own default is not 1
MAX_LENGTH=${MAX_LENGTH:-2048}                        # samples whose image tokens do not fit are dropped, never cut
WARMUP_RATIO=${WARMUP_RATIO:-0.03}
SAVE_STEPS=${SAVE_STEPS:-500}
EVAL_STEPS=${EVAL_STEPS:-$SAVE_STEPS}
SAVE_TOTAL_LIMIT=${SAVE_TOTAL_LIMIT:-2}
LOGGING_STEPS=${LOGGING_STEPS:-5}
LOSS_SCALE=${LOSS_SCALE:-default}                     # default: answers (swift adds +ignore_empty_think); all: the whole text
REPORT_TO=${REPORT_TO:-tensorboard}                   # tensorboard (writes the loss plot), swanlab, wandb, or several
SWANLAB_MODE=${SWANLAB_MODE:-local}                   # with swanlab: local (OUTPUT_DIR/swanlog, no login) or cloud (after `swanlab login`)
export SWANLAB_LOG_DIR=${SWANLAB_LOG_DIR:-$OUTPUT_DIR/swanlog}
DEEPSPEED=${DEEPSPEED:-}                              # zero2, zero3 (or a json config); empty: plain DDP
WORKERS=${WORKERS:-4}                                 # dataloader workers
DATASET_NUM_PROC=${DATASET_NUM_PROC:-4}
RESUME=${RESUME:-auto}                                # auto: latest checkpoint in OUTPUT_DIR if any; none; or a path
SEED=${SEED:-42}                                     # swift's seed and data_seed (the data order)
GRADIENT_CHECKPOINTING=${GRADIENT_CHECKPOINTING:-auto}       # auto: on only if a step of BATCH_SIZE x MAX_LENGTH would not fit without it (qwen3_smvl/train/memory.py); true; false
PADDING_FREE=${PADDING_FREE:-true}                    # rows of a batch concatenated, no padding (same losses as padded; sdpa, eager or flash-attention)
PACKING=${PACKING:-false}                             # rows packed into MAX_LENGTH-token sequences (changes what shares a step; needs LAZY_TOKENIZE=false)
TOKEN_ACC=${TOKEN_ACC:-logging_steps}                 # swift's token_acc: logging_steps (computed on the steps that log it) or every_step (swift's way)
STRICT=${STRICT:-false}                               # true: a bad sample (unreadable image, too long) stops the run
SAMPLE_STEPS=${SAMPLE_STEPS:-200}                     # answer SAMPLE_N held-out questions every N steps (OUTPUT_DIR/samples.jsonl); 0: off
SAMPLE_DATASET=${SAMPLE_DATASET:-}                    # a swift jsonl; default: VAL_DATASET's, else DATASET's first file
first_dataset=${VAL_DATASET:-$DATASET}; first_dataset=${first_dataset%% *}
if [ -z "$SAMPLE_DATASET" ] && [ -f "$first_dataset" ]; then SAMPLE_DATASET=$first_dataset; fi
export SAMPLE_STEPS SAMPLE_DATASET SAMPLE_N=${SAMPLE_N:-4} SAMPLE_MAX_NEW_TOKENS=${SAMPLE_MAX_NEW_TOKENS:-64}
LAZY_TOKENIZE=${LAZY_TOKENIZE:-true}                  # true: encode rows as they are fetched; false: all rows up front (bad ones dropped before step 1)
# Image settings, read from the environment by the plugin's template in sft, infer and deploy alike:
#   SMVL_LONGEST_EDGE     the largest side before tiling (default: the checkpoint's, 2048)
#   SMVL_UPSCALE          true (default): SmolVLM2's resize of every image to it (13-17 tiles), as llama.cpp does;
#                         false: larger images shrink to it, smaller ones keep their resolution (ceil(side/512) tiles)
#   SMVL_IMAGE_SPLITTING  false: only the 64-token global view
# Read from the environment by swift, which then launches torchrun (unset: one process):
#   NPROC_PER_NODE, NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT
# No hub lookups for local paths (each swift command otherwise waits on ModelScope retries when offline).
export USE_HF=${USE_HF:-0}

# The project's own modules, importable whether or not the environment installed the repo.
repo_python() { PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" python "$@"; }

# A mistyped path or an unreachable hub fails here in one line, not after swift's hub time-outs.
repo_python -m qwen3_smvl.inputs --model "$MODEL" --dataset $DATASET $VAL_DATASET || exit 2

GPU=$(python -c 'import torch; print(int(torch.cuda.is_available()))')
# keep: on the CPU, freed tensor memory stays in the process; glibc's own defaults (CPU_ALLOCATOR=glibc) map and
# unmap every block over 32 MB (each step's 151,936-wide logits and head gradient), zero-filled again by the kernel.
CPU_ALLOCATOR=${CPU_ALLOCATOR:-keep}
if [ "$GPU" = 0 ] && [ "$CPU_ALLOCATOR" = keep ]; then
  export MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=17179869184  # no mmap; give memory back only past 16 GiB free
fi
if [ -z "${TORCH_DTYPE:-}" ]; then
  if [ "$GPU" = 1 ]; then TORCH_DTYPE=bfloat16; else TORCH_DTYPE=float32; fi
fi
# Attention: flash-attention 2 on a GPU where the flash_attn package is installed, else PyTorch's SDPA.
if [ -z "${ATTN_IMPL:-}" ]; then
  ATTN_IMPL=sdpa
  [ "$GPU" = 1 ] && python -c 'import flash_attn' 2>/dev/null && ATTN_IMPL=flash_attention_2
fi
gc_why=$GRADIENT_CHECKPOINTING
if [ "$GRADIENT_CHECKPOINTING" = auto ]; then
  gc_line=$(repo_python -m qwen3_smvl.train.memory --model "$MODEL" --batch-size "$BATCH_SIZE" --max-length "$MAX_LENGTH" \
            --dtype "$TORCH_DTYPE" --tuner "$STAGE_TRAINS" --deepspeed "$DEEPSPEED") || exit 2
  GRADIENT_CHECKPOINTING=${gc_line%% *}; gc_why=${gc_line#* }
fi
echo "dtype: $TORCH_DTYPE, attention: $ATTN_IMPL ($([ "$GPU" = 1 ] && echo GPU || echo CPU)), gradient checkpointing: $gc_why, padding_free: $PADDING_FREE, packing: $PACKING"
# No GPU: tell the trainer so, or accelerate sets up no process group for DeepSpeed's CPU ranks (each counts 1).
device_args=()
[ "$GPU" = 0 ] && device_args=(--use_cpu true)

# Mixed precision follows the dtype: swift would turn fp16 AMP on for a float32 model, and DeepSpeed then refuses
# to start on CPUs without fp16 kernels (AVX2-only). A float32 run stays float32.
case "$TORCH_DTYPE" in
  bfloat16) precision_args=(--bf16 true --fp16 false) ;;
  float16) precision_args=(--fp16 true --bf16 false) ;;
  *) precision_args=(--fp16 false --bf16 false) ;;
esac

# FINISHED=true when OUTPUT_DIR's last checkpoint already reached MAX_STEPS (or NUM_EPOCHS): a re-run trains no more.
FINISHED=false
if [ "$RESUME" = auto ] && [ -f "$OUTPUT_DIR/last-checkpoint/trainer_state.json" ] &&
   python - "$OUTPUT_DIR/last-checkpoint/trainer_state.json" "$MAX_STEPS" "$NUM_EPOCHS" <<'PY'
import json, sys
state, max_steps, epochs = json.load(open(sys.argv[1])), int(sys.argv[2]), float(sys.argv[3])
sys.exit(0 if (state['global_step'] >= max_steps if max_steps > 0 else state['epoch'] >= epochs - 1e-6) else 1)
PY
then FINISHED=true; fi

# swift points OUTPUT_DIR/last-checkpoint at each checkpoint once it is completely saved.
resume_args=()
case "$RESUME" in
  none) ;;
  auto) if [ -e "$OUTPUT_DIR/last-checkpoint" ] && [ "$FINISHED" = false ]; then
          resume_args=(--resume_from_checkpoint "$OUTPUT_DIR/last-checkpoint")
          echo "resuming from $(readlink -f "$OUTPUT_DIR/last-checkpoint")"
        fi ;;
  *) resume_args=(--resume_from_checkpoint "$RESUME") ;;
esac

# Rows the template refuses are listed here (one line each) and counted by cause before and after training.
export SMVL_BAD_ROWS=$OUTPUT_DIR/bad_rows.jsonl
mkdir -p "$OUTPUT_DIR" && rm -f "$SMVL_BAD_ROWS"
callbacks=(trainable_parameters bad_rows)
[ "$TOKEN_ACC" = logging_steps ] && callbacks+=(token_acc_on_logging_steps)
[ "$SAMPLE_STEPS" -gt 0 ] && callbacks+=(sample_answers)
deepspeed_args=()
[ -n "$DEEPSPEED" ] && deepspeed_args=(--deepspeed "$DEEPSPEED")
val_args=()
[ -n "$VAL_DATASET" ] && val_args=(--val_dataset $VAL_DATASET --eval_steps "$EVAL_STEPS")

common_args=(
  --external_plugins "$PLUGIN" --check_model false  # check_model asks ModelScope whether a local folder is stale
  --model "$MODEL" --model_type qwen3_smvl
  --dataset $DATASET "${val_args[@]}" --split_dataset_ratio 0
  --output_dir "$OUTPUT_DIR" --add_version false
  --torch_dtype "$TORCH_DTYPE" "${precision_args[@]}" "${device_args[@]}" --attn_impl "$ATTN_IMPL"
  --max_steps "$MAX_STEPS" --num_train_epochs "$NUM_EPOCHS"
  --per_device_train_batch_size "$BATCH_SIZE" --per_device_eval_batch_size "$BATCH_SIZE"
  --gradient_accumulation_steps "$GRAD_ACC"
  --max_length "$MAX_LENGTH" --loss_scale "$LOSS_SCALE" --strict "$STRICT" --lazy_tokenize "$LAZY_TOKENIZE"
  --warmup_ratio "$WARMUP_RATIO" --lr_scheduler_type cosine
  --save_steps "$SAVE_STEPS" --save_total_limit "$SAVE_TOTAL_LIMIT" --logging_steps "$LOGGING_STEPS"
  --gradient_checkpointing "$GRADIENT_CHECKPOINTING" --padding_free "$PADDING_FREE" --packing "$PACKING"
  --dataloader_num_workers "$WORKERS" --dataset_num_proc "$DATASET_NUM_PROC"
  --report_to $REPORT_TO --swanlab_mode "$SWANLAB_MODE" --seed "$SEED" --data_seed "$SEED" --callbacks "${callbacks[@]}"
  "${deepspeed_args[@]}" "${resume_args[@]}"
)

# swift sft (stage3.sh: SWIFT_COMMAND=rlhf), unless the run already finished (then nothing to do but what follows it)
SWIFT_COMMAND=${SWIFT_COMMAND:-sft}
train() {
  if [ "$FINISHED" = true ]; then
    echo "nothing to train: $(readlink -f "$OUTPUT_DIR/last-checkpoint") already reached MAX_STEPS=$MAX_STEPS / NUM_EPOCHS=$NUM_EPOCHS"
  else
    # a failed run ends with what the refused rows explain, if any (not swift's advice to cut samples)
    swift "$SWIFT_COMMAND" "${common_args[@]}" "$@" || { repo_python -m qwen3_smvl.train.bad_rows "$SMVL_BAD_ROWS"; exit 1; }
  fi
}

report() {  # where the run's plot and parameter table are
  echo "output: $OUTPUT_DIR"
  echo "loss plot: $OUTPUT_DIR/images/train_loss.png"
  echo "trainable parameters: $OUTPUT_DIR/trainable_parameters.txt"
}
