# dllm: the two commands a newcomer runs (both create .venv when missing).
#   make demo   install everything and run the main job end to end
#   make test   install everything and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PLUGINS := plugins/dllm-llada plugins/dllm-dream plugins/dllm-bertchat plugins/dllm-editflow
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test test-core clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch first: the CPU wheel 2.13.0 (any other resolution would fetch a multi-GB CUDA build).
$(VENV)/.installed: $(BIN)/python pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS))
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[test,lora,eval]" $(addprefix -e ,$(PLUGINS))
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/dllm plugins
	$(BIN)/dllm demo --output-dir runs/demo

test: install
	$(BIN)/python -m pytest tests -q

clean:
	rm -rf $(VENV) runs build dist
