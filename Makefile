# Qwen3 internals suite. `make help` lists the targets.
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0

.PHONY: help install train reference sweep gates gates-eval test test-fast lint clean

help:  ## show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q torch==$(TORCH_VERSION)   # first: a CPU build here; unpinned torch pulls GBs of CUDA wheels
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed  ## create .venv and install the suite (torch pinned first)

train: install  ## the main job: train variant=original on the bundled tiny corpus (ARGS='variant=no_qk_norm ...')
	$(PY) -m ablations.train $(ARGS)

reference: install  ## train and cache the tiny reference model under runs/reference/tiny
	$(PY) -m ablations.train experiment=tiny_reference $(ARGS)

sweep: install  ## all eight variants as one Hydra multirun (ARGS='trainer=ddp trainer.devices=4 ...')
	$(PY) -m ablations.train -m 'variant=glob(*)' $(ARGS)

gates: install  ## train lambda gates on the tiny reference model (ARGS='model=qwen3_0.6b data=popqa_numina ...')
	$(PY) -m gates.train $(ARGS)

gates-eval: install  ## evaluate the latest gate run against random masking (ARGS='gates_dir=...')
	$(PY) -m gates.evaluate $(ARGS)

lint: install  ## ruff
	$(VENV)/bin/ruff check .

test: install lint  ## lint, then the whole test suite (offline, CPU, < 10 min on 2 cores)
	$(PY) -m pytest -q $(ARGS)

clean:  ## remove caches (keeps runs/ and .venv)
	rm -rf .pytest_cache .ruff_cache **/__pycache__
