# jaxbidir: every target does the set-up it needs on a fresh machine.
#   make install   create .venv with Python >= 3.12 (PYTHON=/path/to/python3.12 to choose one)
#                  and the runtime; `make install-test` adds what tests and benchmarks compare
#                  against (minigrid, PyTorch)
#   make train     train with the default config (shows progress, writes runs/); ARGS for
#                  --config and dotted table.key=value overrides, e.g.
#                  ARGS='--config paper_40 mode=oracle run.num_seeds=8 student.lr=3e-4'
#   make pretrain-teacher  rebuild the shipped teacher (jaxbidir/teacher/pretrained/; loaded
#                  by jaxbidir/teacher/configured.py); ARGS for its flat key=value overrides
#   make curves    every mode on 32 seeds of the paper's level: figure and table in runs/curves
#                  (CONFIG=name SEEDS=n to change; ARGS for table.key=value overrides, e.g.
#                  ARGS='env.num_envs=16 run.seed_batch=8';
#                  MODES=...,glam adds the GLAM baseline, about 50x slower per frame)
#   make reproduce EXP=name  one of the project's experiments (jaxbidir reproduce --list),
#                  its per-seed record into results/EXP/ (resumes; committed arms are kept)
#   make test      the test suite (tiny configs; the slow tests are marked and left to test-slow)
#   make test-slow the per-level tests on the other levels, the longest runs (CI too)
#   make test-distributed  one run over two processes against one (minutes; CI runs it too)
#   make bench     throughput benchmarks; the last line printed is one JSON object
#   make device-wheels  download the wheels the accelerator machine's Python lacks (navix and
#                  what it imports, tensorboardX) into wheels/device/, and print their size
#   make device-check OUT=dir  the accelerator check (benchmarks/device_check.py): env, student,
#                  teacher and a 32-seed paper_40 run, minutes; one JSON file in OUT. Runs with
#                  the machine's own Python, no network: carry wheels/device/ with the tree
#   make lint      ruff
# JAX for accelerators: JAX_EXTRA=cuda12 (NVIDIA GPU) or JAX_EXTRA=tpu (TPU VM), e.g.
#   make install JAX_EXTRA=cuda12

SHELL := /bin/bash
VENV ?= .venv
JAX_EXTRA ?=
comma := ,
BIN := $(VENV)/bin
# -qq: errors only. setuptools (84 and later) ends every editable install, whatever its mode,
# with a 12-line "Editable installation" notice, which -q shows
PIP_INSTALL = $(BIN)/python -m pip install -qq

# The first interpreter that really runs and is >= 3.12: $(PYTHON), then the usual names,
# then pyenv's installed versions (on some machines the python3.12 shim exists but fails).
find_python = for p in $(PYTHON) python3.13 python3.12 python3 \
	$$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV); do \
	  if "$$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then \
	    command -v "$$p" || echo "$$p"; exit 0; fi; done; exit 1

.PHONY: install install-test install-curves train pretrain-teacher curves reproduce test test-slow test-distributed bench device-wheels device-check lint clean

# the runtime (what `make train` needs) ...
$(VENV)/.installed: pyproject.toml
	@py=$$($(find_python)) || { \
	  echo "error: jaxbidir needs Python >= 3.12 (navix 4 requires it) and none was found."; \
	  echo "  Install one (e.g. 'pyenv install 3.12' or your OS package python3.12),"; \
	  echo "  then run: make install PYTHON=/path/to/python3.12"; exit 1; }; \
	echo "using $$py ($$($$py --version))"; \
	[ -x $(BIN)/python ] || $$py -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(PIP_INSTALL) -e ".$(if $(JAX_EXTRA),[$(JAX_EXTRA)])"
	@touch $@

# ... and what the tests and benchmarks compare against (minigrid, PyTorch, transformers' models)
$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP_INSTALL) -e ".[test$(if $(JAX_EXTRA),$(comma)$(JAX_EXTRA))]"
	@touch $@

# ... and what `make curves` adds (matplotlib)
$(VENV)/.installed-curves: $(VENV)/.installed
	$(PIP_INSTALL) -e ".[curves$(if $(JAX_EXTRA),$(comma)$(JAX_EXTRA))]"
	@touch $@

install: $(VENV)/.installed

install-curves: $(VENV)/.installed-curves

install-test: $(VENV)/.installed-test

train: install
	$(BIN)/jaxbidir train $(ARGS)

pretrain-teacher: install
	$(BIN)/jaxbidir pretrain-teacher --out jaxbidir/teacher/pretrained --overwrite $(ARGS)

CONFIG ?= gotoredballnodists
SEEDS ?= 32
MODES ?= student_only,teacher_frozen,teacher_greedy,bidirectional,bidirectional_shuffled,oracle
curves: install-curves
	$(BIN)/jaxbidir curves --config $(CONFIG) --seeds $(SEEDS) --modes $(MODES) \
		--out runs/curves-$(CONFIG) $(ARGS)

reproduce: install-curves
	@[ -n "$(EXP)" ] || { $(BIN)/jaxbidir reproduce --list; echo "choose one: make reproduce EXP=name"; exit 2; }
	$(BIN)/jaxbidir reproduce $(EXP) $(ARGS)

# test files run in parallel processes (most tests are compile-bound and XLA compiles on one
# core); a file's tests stay together to share its compiled programs
TEST_WORKERS ?= 2
test: install-test
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(ARGS)

# the per-level tests on every other level, the runs of a minute or more (CI runs them)
test-slow: install-test
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m slow $(ARGS)

# two JAX processes at a time, each of them compiling: no parallel test workers
test-distributed: install-test
	$(BIN)/python -m pytest -q -m distributed tests/test_distributed.py $(ARGS)

bench: install-test
	$(BIN)/python benchmarks/all.py $(ARGS)

# for the accelerator machine's Python 3.12 on x86_64 Linux, whatever this one is
DEVICE_PLATFORMS = manylinux_2_28_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64
device-wheels: install
	rm -rf wheels/device
	$(BIN)/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
		$(addprefix --platform ,$(DEVICE_PLATFORMS)) -r benchmarks/device_wheels.txt -d wheels/device
	@ls wheels/device/*.whl | wc -l | xargs printf '%s wheels, '; \
	  du -cb wheels/device/*.whl | tail -1 | awk '{printf "%.1f MiB in wheels/device (carried: under 64 MiB with the tree)\n", $$1 / 2^20}'

# on the accelerator machine itself: no install (no network), its Python and wheels/device/
OUT ?= runs/device-check
device-check:
	bash benchmarks/device_check.sh $(OUT) $(ARGS)

lint: install-test
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) runs .pytest_cache
