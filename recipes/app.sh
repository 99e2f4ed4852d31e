#!/usr/bin/env bash
# A web page to try a checkpoint: ms-swift's `swift app` chat page (upload a picture, ask in Chinese) in front of
# recipes/deploy.sh, which serves the checkpoint with its own backend choice on a free local port.
#   bash recipes/app.sh                                   # the demo's trained model (make demo), on 127.0.0.1:7860
#   MODEL=runs/stage2-merged BACKEND=vllm bash recipes/app.sh
# deploy.sh's knobs (BACKEND, MAX_IMAGES, ENABLE_THINKING, the SMVL_* image settings, ...) pass through to it.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
# The page runs in .venv (gradio 5 cannot share an environment with official vLLM); the server wherever deploy.sh says.
[ -x "$REPO/.venv/bin/python" ] && PATH="$REPO/.venv/bin:$PATH"

DEMO_MODEL=$REPO/runs/demo/stage2/last-checkpoint
MODEL=${MODEL:-$DEMO_MODEL}                         # a spliced, trained or merged checkpoint
BASE_URL=${BASE_URL:-}                              # an endpoint already serving MODEL; empty: start deploy.sh
export BACKEND=${BACKEND:-auto}                     # deploy.sh's: vllm on a GPU, transformers on a CPU
HOST=${HOST:-127.0.0.1}                             # the page's address; 0.0.0.0 shows it to the network (no login!)
PORT=${PORT:-7860}                                  # the page's port (swift takes the next free one if it is taken)
MAX_NEW_TOKENS=${MAX_NEW_TOKENS:-512}
TEMPERATURE=${TEMPERATURE:-0}                       # 0: greedy, the same answer every time
export ENABLE_THINKING=${ENABLE_THINKING:-false}    # true: answers think first (folded on the page)
STUDIO_TITLE=${STUDIO_TITLE:-Qwen3-SmVL 看图问答}
UI_LANG=${UI_LANG:-zh}                              # the page's buttons: zh | en
export DEPLOY_LOG=${DEPLOY_LOG:-}                   # deploy.sh's log; empty: a temporary file, named at start

if [ "$MODEL" = "$DEMO_MODEL" ] && [ ! -e "$MODEL" ]; then
  echo "recipes/app.sh: no trained demo model at $MODEL: run \`make demo\` first, or set MODEL." >&2
  exit 1
fi
[ -e "$MODEL" ] && MODEL=$(realpath "$MODEL")       # deploy.sh runs from the repository
base_url_args=()
[ -n "$BASE_URL" ] && base_url_args=(--base_url "$BASE_URL")

exec python -m qwen3_smvl.serve.app --external_plugins "$REPO/plugin/register.py" --model "$MODEL" --model_type qwen3_smvl \
  "${base_url_args[@]}" --server_name "$HOST" --server_port "$PORT" --studio_title "$STUDIO_TITLE" --lang "$UI_LANG" \
  --max_new_tokens "$MAX_NEW_TOKENS" --temperature "$TEMPERATURE" "$@"
