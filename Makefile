# zone-opt developer interface. `make help` lists the targets.
SHELL := bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements/lock.txt pyproject.toml | cksum | cut -d' ' -f1)
SIZE ?= full
RUST_SOURCES := $(shell find core_rs -name '*.rs' -o -name Cargo.toml) Cargo.toml Cargo.lock
SO_STAMP := $(VENV)/.built

.PHONY: help
help: ## Show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements/lock.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/lock.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

.PHONY: install
install: $(STAMP) ## Create .venv with the pinned Python dependencies

$(SO_STAMP): $(STAMP) $(RUST_SOURCES) pyproject.toml
	rm -f zone_opt/_core*.so
	$(VENV)/bin/maturin develop --release --quiet
	@touch $@

.PHONY: build
build: $(SO_STAMP) ## Build the Rust extension (release) into zone_opt/_core

.PHONY: test-rs
test-rs: ## Run the Rust engine tests (no Python interpreter involved)
	cargo test --workspace --quiet

.PHONY: test-py
test-py: build ## Run the Python tests
	$(PY) -m pytest -q

.PHONY: test
test: build test-rs test-py bench-smoke ## Set up, build, run every test (Rust, Python, benchmark smoke)

.PHONY: run
run: build ## Set up, build and start the main job on its embedded defaults
	$(PY) -m zone_opt demo

.PHONY: lint
lint: build ## ruff, ruff format --check, mypy --strict, stubtest, cargo fmt --check, clippy
	$(VENV)/bin/ruff check zone_opt tests bench
	$(VENV)/bin/ruff format --check zone_opt tests bench
	$(VENV)/bin/mypy zone_opt tests bench
	$(PY) -m mypy.stubtest zone_opt._core --allowlist .mypy-stubtest-allowlist
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings

.PHONY: format
format: install ## Format Python and Rust sources
	$(VENV)/bin/ruff format zone_opt tests bench
	$(VENV)/bin/ruff check --fix zone_opt tests bench
	cargo fmt --all

.PHONY: bench
bench: build ## Run every benchmark suite at full size against its peers (SIZE=smoke|full)
	$(PY) -m bench --size $(SIZE)

.PHONY: bench-smoke
bench-smoke: build ## Run every benchmark suite at smoke size, checking correctness only
	$(PY) -m bench --size smoke --check-only

.PHONY: clean
clean: ## Remove build outputs and the virtualenv
	rm -rf $(VENV) target zone_opt/_core*.so .mypy_cache .ruff_cache .pytest_cache
