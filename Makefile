# The two commands of the README:
#   make demo   set up .venv (first time) and run the main job on the embedded default
#   make test   set up .venv (first time), check notebooks and library are in sync, run all tests (two pytest-xdist
#               workers: the tests wait on subprocesses, disks and kernels much of the time)
# Stored outputs: `make notebooks` re-executes every notebook at full size in place (with a record of what made the
# outputs, which `make test` checks), `make notebooks-stale` those whose record is out of date,
# `make notebook NB=92_batches` one or several (stems, space-separated); OUT=/tmp/dir writes executed copies there
# and leaves nbs/ alone (a timing run).
# Elsewhere, pick your own torch build:  make test TORCH_PKGS="torch torchvision"
# The browser test needs Chromium: `make test` installs it (apt-get) only in CI (CI=true); elsewhere run `make browser`
# once, or set DSG_CHROMIUM=/path/to/chromium, or the test skips.
PYTHON     ?= python3
VENV       := .venv
BIN        := $(VENV)/bin
TORCH_PKGS ?= torch==2.14.1 torchvision==0.29.1
STAMP      := $(VENV)/.installed
FASTCORE2  := $(VENV)/fastcore-latest
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test env readme browser notebooks notebooks-stale notebook
demo: $(STAMP)
	$(BIN)/dsg_demo --preset quick

test: $(STAMP) $(FASTCORE2) $(if $(filter true,$(CI)),browser)
	$(BIN)/python tools/check_sync.py
	$(BIN)/python -m pytest -n 2 --dist load --maxschedchunk 1

env: $(STAMP)

# The browser test drives Debian's Chromium (Playwright's own browser download does not work offline).
browser:
	@command -v chromium >/dev/null || ! command -v apt-get >/dev/null || \
	  { echo "installing Debian chromium for the browser test"; $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# The newest fastcore, apart from the venv (nbdev pins fastcore 1.x there): tests/test_cli_args.py runs the console
# scripts with it first on PYTHONPATH, as a plain `pip install .` would give them. Offline, that test skips (not in CI).
$(FASTCORE2): $(STAMP)
	$(BIN)/python -m pip install -q --no-deps --upgrade --target $@ fastcore && touch $@ || \
	  { rm -rf $@; [ "$(CI)" != true ] && echo "could not fetch the newest fastcore: its test will skip"; }

notebooks: $(STAMP)
	$(BIN)/nbdev_export
	$(BIN)/python tools/execute_notebooks.py $(if $(OUT),--out $(OUT))

notebooks-stale: $(STAMP)
	$(BIN)/nbdev_export
	$(BIN)/python tools/execute_notebooks.py --stale $(if $(OUT),--out $(OUT))

notebook: $(STAMP)
	@test -n "$(NB)" || { echo 'name the notebook: make notebook NB=92_batches'; exit 2; }
	$(BIN)/nbdev_export
	$(BIN)/python tools/execute_notebooks.py $(NB) $(if $(OUT),--out $(OUT))

readme: $(STAMP)
	$(BIN)/python tools/make_readme.py

$(STAMP): settings.ini setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_PKGS)
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python -c "from depth_semantic_gan.inception import install_inception_weights as i; print('FID Inception weights:', i())"
	touch $(STAMP)
