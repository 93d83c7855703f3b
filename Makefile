# Qwen3 internals suite. `make help` lists the targets.
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0

.PHONY: help install train reference sweep study confirm docs plan lm-eval publish gates gates-eval localise vindex vindex-constants gate3 report dashboard bench headline gpu-check test test-long test-scale lint clean

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

SWEEP ?= default
VARIANTS ?= glob(*)
sweep: install  ## every variant of conf/variant into runs/ablations/sweeps/$(SWEEP); rerun to resume (VARIANTS=a,b ARGS='trainer=ddp ...')
	$(PY) -m ablations.train -m 'variant=$(VARIANTS)' 'hydra.sweep.dir=$${paths.runs}/ablations/sweeps/$(SWEEP)' $(ARGS)

STUDY ?= default
TEXT_STUDIES := horizon
STUDY_EXPERIMENT = $(if $(filter $(TEXT_STUDIES),$(STUDY)),text_study,norm_study)
study: install  ## the norm study into runs/ablations/studies/$(STUDY), ending with <study>/report (STUDY=default ~2 h | quick | scaling | interventions | dyt | dyt_sites | dyt_surgery | horizon: real text, experiment=text_study)
	$(PY) -m ablations.train experiment=$(STUDY_EXPERIMENT) study=$(STUDY) $(ARGS)

confirm: install  ## the registered claims (conf/claims/*.yaml) tested on fresh seeds, each with its verdict, into runs/confirm (resumable; ARGS='--plan' | '--claims norm' | '--publish'; cost: make plan ARGS='--config-name confirm')
	$(PY) -m benchmarks.confirm $(ARGS)

docs: install  ## generated blocks rewritten from the committed JSON: README and docs/norm-study.md (docs/results/norm_study/*/study.json), docs/gates.md (docs/results/localise/benchmark.json), docs/headline.md (docs/results/headline/headline.json), docs/confirm.md (docs/results/confirm/*.json); then every inline value of README and docs/ (benchmarks.doc_values)
	$(PY) -m ablations.study.publish $(ARGS)
	$(PY) -m gates.localise.report
	$(PY) -m benchmarks.headline --docs
	$(PY) -m benchmarks.confirm --docs
	$(PY) -m benchmarks.doc_values

plan: install  ## what a run or grid will cost before it runs: jobs, params, tokens, FLOPs, GPU-hours, memory per device, disk (ARGS='experiment=norm_study ...')
	$(PY) -m lab.plan $(ARGS)

TASKS ?= tiny
publish: install  ## a run, sweep, gate run or vindex onto the Hugging Face Hub in its seed's layout: make publish RUN=<folder> REPO=<owner/name> [ARGS='dry_run=true dtype=bfloat16 private=true']
	@test -n "$(RUN)" -a -n "$(REPO)" || { echo "usage: make publish RUN=<folder> REPO=<owner/name> [ARGS='dry_run=true ...']"; exit 2; }
	$(PY) -m lab.publish folder=$(RUN) repo_id=$(REPO) $(ARGS)

lm-eval: install  ## lm-evaluation-harness on a run, sweep, gate run or model: make lm-eval RUN=<folder | hub id> TASKS=tiny,hellaswag
	@test -n "$(RUN)" || { echo "usage: make lm-eval RUN=<folder | hub id> [TASKS=tiny,...] [ARGS='limit=100 ...']"; exit 2; }
	$(PY) -m lab.evaluate.lm_eval $(RUN) 'tasks=[$(TASKS)]' $(ARGS)

gates: install  ## train lambda gates on the tiny reference model (ARGS='model=qwen3_0.6b data=popqa_numina ...')
	$(PY) -m gates.train $(ARGS)

gates-eval: install  ## evaluate the latest gate run against random masking (ARGS='gates_dir=...')
	$(PY) -m gates.evaluate $(ARGS)

LOCALISE ?= default
localise: install  ## the knowledge-localisation benchmark into runs/gates/localise/benchmark/$(LOCALISE); rerun to resume: gates, trained random gates, attribution, Gate 3 (attribution and rank-1 DELETE), vindex features, random; held-out facts, statements, probe, four relearning attacks, budgets 1/5/20 %; seeds 0,1,2 at once (30 min on 2 cores with the reference cached; ARGS='publish=true ...')
	$(PY) -m gates.localise 'hydra.run.dir=$${paths.runs}/gates/localise/benchmark/$(LOCALISE)' $(ARGS)

vindex: install  ## build the vindex of the tiny reference model (ARGS='source=Qwen/Qwen3-8B ...')
	$(PY) -m vindex.build $(ARGS)

vindex-constants: install  ## measure C1-C5 into the vindex (ARGS='source=... probe=...')
	$(PY) -m vindex.constants $(ARGS)

gate3: install  ## the forward-pass Gate 3 DELETE test (ARGS='source=... gate3.num_neurons=32')
	$(PY) -m vindex.gate3 $(ARGS)

report: install  ## figures + report.md of a run, sweep, gate run or vindex folder: make report RUN=<folder>
	@test -n "$(RUN)" || { echo "usage: make report RUN=<run, sweep, gate run or vindex folder>"; exit 2; }
	$(PY) -m lab.report $(RUN)

dashboard: install  ## a saved W&B workspace comparing the variants (online): make dashboard ENTITY=<e> [GROUP=<sweep>]
	$(PY) -m pip install -q -e '.[dashboard]'
	$(PY) -m lab.report.wandb_dashboard --entity $(ENTITY) $(if $(GROUP),--group $(GROUP))

bench: install  ## benchmarks (numbers, not tests) into benchmarks/results/*.json; BENCH=svd runs one
	$(PY) -m benchmarks $(BENCH)

headline: install  ## the README's headline results over seeds 0,1,2 (main job; reference recipe with its gates, vindex, Gate 3) into runs/headline (~32 min; ARGS='--publish' rewrites docs/headline.md)
	$(PY) -m benchmarks.headline $(ARGS)

gpu-check: install  ## a GPU node's check before the seeds run: bf16 vs fp32 loss, 0.6B-shape tokens/s + MFU + memory vs plan, gate step (~5 min; a smoke test on CPU)
	$(PY) -m benchmarks.gpu_check $(ARGS)

lint: install  ## ruff
	$(VENV)/bin/ruff check .

TEST_WORKERS ?= 3
test: install lint  ## lint, then the test suite less its long end-to-end pipelines (offline, CPU; budget 8 min on 2 cores with 3 workers from a fresh clone, install not counted; TEST_WORKERS=0 runs it in one process)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(ARGS)

test-long: install  ## the long end-to-end tests (pytest -m long: the localisation benchmark, study grids, DDP runs killed and resumed, every benchmark's smoke path, a confirmatory run, compiled runs); CI runs them after make test
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -m long $(ARGS)

test-scale: install  ## real-width tests (0.6B shape vs lab.plan, 8B-width vindex.pipeline), gpu-check smoke, SLURM on a local cluster (installs slurm-wlm as root); ~20 min (11 tests in 20:14 here), 16 GB RAM
	$(PY) -m pytest -q -m scale -s -p no:cacheprovider tests/scale $(ARGS)

clean:  ## remove caches (keeps runs/ and .venv)
	rm -rf .pytest_cache .ruff_cache **/__pycache__
