# Two commands on a fresh machine: `make report` (the main job) and `make test`.
# Both create .venv and install what they need; torch is pinned by constraints.txt.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install -q -c constraints.txt
# CI runs the slow real-model tests in their small size; `make test-full` runs them full.
S3T_TEST_SIZE ?= small

.PHONY: report test test-full validate bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-base: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	touch $@

$(VENV)/.installed-all: $(VENV)/.installed-base
	$(PIP) -e '.[train,ray,dev]'
	touch $@

report: $(VENV)/.installed-base
	$(BIN)/s3t report --out out

# One torch thread per process: on a busy 2-core machine more threads stall small kernels.
export S3T_TORCH_THREADS ?= 1

test: $(VENV)/.installed-all
	S3T_TEST_SIZE=$(S3T_TEST_SIZE) $(BIN)/python -m pytest -q tests

test-full: $(VENV)/.installed-all
	S3T_TEST_SIZE=full $(BIN)/python -m pytest -q tests

# Real runs on 2 cores: the full validation and the small deletion curves (SISA and full
# fine-tuning retrained for real); afterwards `make report` adds their sections.
validate: $(VENV)/.installed-all
	$(BIN)/s3t validate --out out/validation
	$(BIN)/s3t deletion-curves --size small --out out/deletion-curves

bench: $(VENV)/.installed-all
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) out .pytest_cache
