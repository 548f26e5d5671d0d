# dllm: the two commands a newcomer runs (both create .venv when missing).
#   make demo   install everything and run the main job end to end
#   make test   install everything and run the test suite
#   make test-scale   multi-process training on CPU: DDP, ZeRO-2/3, FSDP2, LoRA/4-bit, resume (minutes)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PLUGINS := plugins/dllm-llada plugins/dllm-dream plugins/dllm-bertchat plugins/dllm-editflow plugins/dllm-llada2 plugins/dllm-a2d plugins/dllm-diffusiongemma
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install install-scale demo test test-scale test-core clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch first: the CPU wheel 2.13.0 (any other resolution would fetch a multi-GB CUDA build).
$(VENV)/.installed: $(BIN)/python pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS))
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[test,lora,eval,serve,serve-test]" $(addprefix -e ,$(PLUGINS))
	touch $@

install: $(VENV)/.installed

# the optional extras the scale tests use: DeepSpeed and bitsandbytes (torch stays the CPU wheel)
$(VENV)/.installed-scale: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test,lora,eval,deepspeed,quant]"
	touch $@

install-scale: $(VENV)/.installed-scale

demo: install
	$(BIN)/dllm plugins
	$(BIN)/dllm demo --output-dir runs/demo

test: install
	$(BIN)/python -m pytest tests -q

# tests/scale is never collected by `make test` (norecursedirs in pyproject.toml)
test-scale: install-scale
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest tests/scale -q

clean:
	rm -rf $(VENV) runs build dist
