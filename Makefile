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

# The Ray extra (zone_opt.distributed's Ray backend): pinned in requirements/ray.txt and
# installed with the lock as constraints, so nothing the lock pins moves; once per content
# of both files, like $(STAMP).
RAY_STAMP := $(VENV)/.ray-$(shell cat requirements/lock.txt requirements/ray.txt | cksum | cut -d' ' -f1)

$(RAY_STAMP): $(STAMP) requirements/ray.txt
	$(PY) -m pip install --quiet -r requirements/ray.txt -c requirements/lock.txt
	$(PY) -m pip check
	@rm -f $(VENV)/.ray-*
	@touch $@

.PHONY: ray
ray: $(RAY_STAMP) ## Install the Ray extra into .venv (requirements/ray.txt; the Ray tests need it)

$(SO_STAMP): $(STAMP) $(RUST_SOURCES) pyproject.toml
	rm -f zone_opt/_core*.so
	$(VENV)/bin/maturin develop --release --quiet
	@touch $@

.PHONY: build
build: $(SO_STAMP) ## Build the Rust extension (release) into zone_opt/_core

.PHONY: test-rs
test-rs: ## Run the Rust engine tests (no Python interpreter involved)
	cargo test --workspace --quiet
	@# PSI again on dalek's path (the multi-buffer one is the default on IFMA CPUs).
	ZONE_OPT_JOIN_SIMD=0 cargo test --workspace --quiet join

# The browser test of the HTML reports drives the system's Chromium through Playwright
# (no browser download): Debian's package, installed here when missing.
.PHONY: browser
browser: ## Install headless Chromium (Debian's chromium) for the report browser test
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }
	@chromium --version 2>/dev/null || chromium-browser --version

.PHONY: test-py
test-py: build browser ray ## Run the Python tests
	$(PY) -m pytest -q
	ZONE_OPT_JOIN_SIMD=0 $(PY) -m pytest -q tests -k "join"

.PHONY: bench-rs
bench-rs: ## Criterion benches of the engine (core_rs/benches: matching, carbon, join)
	cargo bench --bench matching --bench carbon --bench join

.PHONY: bench-rs-smoke
bench-rs-smoke: ## Run each criterion bench once (correctness of the bench code, no timing)
	cargo bench --quiet --bench matching --bench carbon --bench join -- --test

.PHONY: test
test: build test-rs test-py fuzz-smoke bench-smoke bench-rs-smoke wheel-smoke ## Set up, build, run every test (Rust, Python, fuzz smoke, benchmark smokes, installed wheel)

# Fuzzing (core_rs/fuzz, its own workspace): libFuzzer through cargo-fuzz on the stable
# toolchain (RUSTC_BOOTSTRAP=1 admits the -Z flags cargo-fuzz passes; no sanitizer, as
# ASan needs a nightly std; debug assertions stay on). cargo-fuzz is installed once per
# version into a cache outside the clone (TOOLS), pinned and --locked.
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_RUNS ?= 10000
FUZZ_TARGETS := join_wire sparse stable candidates carbon
CARGO_FUZZ_VERSION := 0.13.2
TOOLS ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/zone-opt-tools/cargo-fuzz-$(CARGO_FUZZ_VERSION)
CARGO_FUZZ := $(TOOLS)/bin/cargo-fuzz
FUZZ_MANIFEST := core_rs/fuzz/Cargo.toml

$(CARGO_FUZZ):
	cargo install --quiet --locked --root $(TOOLS) --version $(CARGO_FUZZ_VERSION) cargo-fuzz

.PHONY: fuzz-tool
fuzz-tool: $(CARGO_FUZZ) ## Install cargo-fuzz (once per version, cached in TOOLS)

# $(call fuzz_run,seconds,extra libFuzzer flags,corpus dirs): each target in turn, seeded by
# the corpus dirs (new inputs go to the first); one line per target with its executions
# and executions per second; fails on a crash.
define fuzz_run
	@mkdir -p target/fuzz-logs
	@cd core_rs/fuzz && for t in $(FUZZ_TARGETS); do \
		dirs="$(foreach d,$(3),$(d)/$$t)"; mkdir -p $$dirs; \
		PATH="$(TOOLS)/bin:$$PATH" RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none $$t $$dirs -- \
			-max_total_time=$(1) -print_final_stats=1 -rss_limit_mb=2048 -max_len=4096 $(2) \
			> ../../target/fuzz-logs/$$t.log 2>&1; rc=$$?; \
		awk -v t=$$t -v rc=$$rc '/stat::number_of_executed_units/ {n=$$2} /stat::average_exec_per_sec/ {r=$$2} \
			END {printf "fuzz %-11s %10s runs %8s exec/s  %s\n", t, n, r, (rc == 0 ? "ok" : "CRASH: target/fuzz-logs/" t ".log, core_rs/fuzz/artifacts/" t "/")}' \
			../../target/fuzz-logs/$$t.log; \
		test $$rc -eq 0 || status=1; \
	done; exit $${status:-0}
endef

.PHONY: fuzz
fuzz: fuzz-rs fuzz-py ## Fuzz the engine (every Rust target FUZZ_SECONDS) and the gRPC edge (Python); prints exec/s

.PHONY: fuzz-rs
fuzz-rs: $(CARGO_FUZZ) ## Fuzz every Rust target FUZZ_SECONDS (default 60), growing core_rs/fuzz/corpus; prints exec/s
	$(call fuzz_run,$(FUZZ_SECONDS),,corpus)

.PHONY: fuzz-replay
fuzz-replay: ## Replay the fuzz regressions and corpus through every harness (plain cargo test, no cargo-fuzz)
	cargo test --manifest-path $(FUZZ_MANIFEST) --target-dir target --no-default-features --quiet

.PHONY: fuzz-smoke
fuzz-smoke: fuzz-replay $(CARGO_FUZZ) ## fuzz-replay, then FUZZ_SMOKE_RUNS inputs per target from seed 1 (the same inputs on every machine)
	$(call fuzz_run,600,-seed=1 -runs=$(FUZZ_SMOKE_RUNS),../../target/fuzz-corpus corpus)

.PHONY: run
run: build ## Set up, build and start the gRPC server on its embedded defaults (demo token printed)
	$(PY) -m zone_opt serve --data-dir ./.zone-opt-data

.PHONY: wheel
wheel: $(STAMP) ## Build the release wheel into dist/
	rm -rf dist
	$(VENV)/bin/maturin build --release --quiet --out dist

.PHONY: wheel-smoke
wheel-smoke: wheel ## Install the wheel into a fresh virtualenv with nothing else; run --help, demo, serve + health
	rm -rf .venv-wheel
	$(PYTHON) -m venv .venv-wheel
	.venv-wheel/bin/python -m pip install --quiet dist/*.whl
	cd $$(mktemp -d) && env -u PYTHONPATH $(CURDIR)/.venv-wheel/bin/python $(CURDIR)/tests/wheel_smoke.py

.PHONY: lint
lint: build proto-check ## ruff, ruff format --check, mypy --strict, import contracts, stubtest, proto drift, cargo fmt --check, clippy
	$(VENV)/bin/ruff check zone_opt tests bench docs/gen
	$(VENV)/bin/ruff format --check zone_opt tests bench docs/gen
	$(VENV)/bin/mypy zone_opt tests bench docs/gen
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m mypy.stubtest zone_opt._core --allowlist .mypy-stubtest-allowlist
	cargo fmt --all -- --check
	cargo fmt --manifest-path $(FUZZ_MANIFEST) -- --check
	cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings
	cargo clippy --manifest-path $(FUZZ_MANIFEST) --target-dir target --no-default-features --all-targets --quiet -- -D warnings

.PHONY: docs
docs: build ## Build the docs site into site/ (mkdocs --strict; API, gRPC and CLI references generated from the code)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

PROTOS := $(wildcard grpc/zone_opt/api/v1/*.proto)
PROTO_INCLUDE = $(shell $(PY) -c 'import grpc_tools, os, google.rpc; print(os.path.dirname(grpc_tools.__file__) + "/_proto", os.path.dirname(os.path.dirname(list(google.rpc.__path__)[0])))')
define protoc
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m grpc_tools.protoc -I grpc $(foreach d,$(PROTO_INCLUDE),-I $(d)) \
		--python_out=$(1) --grpc_python_out=$(1) --mypy_out=$(1) --mypy_grpc_out=$(1) $(PROTOS)
endef

.PHONY: proto
proto: install ## Compile grpc/zone_opt/api/v1/*.proto into zone_opt/api/v1/ (committed)
	rm -f zone_opt/api/v1/*_pb2*.py zone_opt/api/v1/*_pb2*.pyi
	$(call protoc,.)

.PHONY: proto-check
proto-check: install ## Fail if the committed generated code differs from the .proto sources
	@tmp=$$(mktemp -d) && $(call protoc,$$tmp) && \
		diff -r -x '__init__.py' -x '__pycache__' $$tmp/zone_opt/api/v1 zone_opt/api/v1 \
		&& rm -rf $$tmp && echo "proto: generated code up to date"

.PHONY: format
format: install ## Format Python and Rust sources
	$(VENV)/bin/ruff format zone_opt tests bench docs/gen
	$(VENV)/bin/ruff check --fix zone_opt tests bench docs/gen
	cargo fmt --all

.PHONY: bench
bench: build ## Run every benchmark suite at full size against its peers (SIZE=smoke|full)
	$(PY) -m bench --size $(SIZE)

.PHONY: bench-pypsa-venv
bench-pypsa-venv: ## Create .venv-pypsa: PyPSA 1.4 for the dispatch benchmark (it cannot share our pins)
	@test -x .venv-pypsa/bin/python || $(PYTHON) -m venv .venv-pypsa
	.venv-pypsa/bin/pip install --quiet pypsa==1.4.0 linopy==0.10.1 highspy==1.15.1 \
		pandas==3.1.1 numpy==2.4.6 xarray==2026.9.0

.PHONY: bench-join-peers
bench-join-peers: ## Create .venv-join-peers (openmined-psi, spu) for the join suite's peers
	@test -x .venv-join-peers/bin/python || $(PYTHON) -m venv .venv-join-peers
	.venv-join-peers/bin/python -m pip install --quiet -r bench/join_peers/requirements.txt

FUZZ_EXAMPLES ?= 300
FUZZ_SCALE ?= 5

.PHONY: fuzz-py
fuzz-py: build ## Fuzz the gRPC edge: every RPC's request (hypothesis) and mutated IPC uploads to a server process, a fresh seed each run
	set -o pipefail; ZONE_OPT_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) ZONE_OPT_EDGE_SCALE=$(FUZZ_SCALE) ZONE_OPT_EDGE_SEED=$$(date +%s) \
		$(PY) -m pytest -q -s tests/service/test_fuzz_rpc.py tests/service/test_edge_corpus.py \
		| sed -n 's/^[.sFE]*\(fuzz .*\)/\1/p; /passed\|failed/p'

.PHONY: bench-smoke
bench-smoke: build ## Run every benchmark suite at smoke size, checking correctness only
	$(PY) -m bench --size smoke --check-only

.PHONY: clean
clean: ## Remove build outputs and the virtualenv
	rm -rf $(VENV) target zone_opt/_core*.so .mypy_cache .ruff_cache .pytest_cache core_rs/fuzz/target core_rs/fuzz/artifacts
