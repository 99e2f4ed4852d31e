# make venv: .venv with everything pinned; make test: the test suite; make demo: the main job end to end (CPU).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

# Nothing here may wait on a hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export MODELSCOPE_OFFLINE := 1

.PHONY: venv test demo clean

$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements.txt -c constraints.txt
	$(VENV)/bin/pip install -q --no-deps --no-build-isolation -e .
	touch $@

venv: $(VENV)/.installed

test: venv
	$(PY) -m pytest -q tests

demo: venv
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) tools/demo.py

clean:
	rm -rf runs
