# The two commands of the README:
#   make demo   set up .venv (first time) and run the main job on the embedded default
#   make test   set up .venv (first time), check notebooks and library are in sync, run all tests
# Elsewhere, pick your own torch build:  make test TORCH_PKGS="torch torchvision"
PYTHON     ?= python3
VENV       := .venv
BIN        := $(VENV)/bin
TORCH_PKGS ?= torch==2.14.1 torchvision==0.29.1
STAMP      := $(VENV)/.installed

.PHONY: demo test env readme
demo: $(STAMP)
	$(BIN)/dsg_env

test: $(STAMP)
	$(BIN)/python tools/check_sync.py
	$(BIN)/python -m pytest

env: $(STAMP)

readme: $(STAMP)
	$(BIN)/python tools/make_readme.py

$(STAMP): settings.ini setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_PKGS)
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python -c "from depth_semantic_gan.fid import install_inception_weights as i; print('FID Inception weights:', i())"
	touch $(STAMP)
