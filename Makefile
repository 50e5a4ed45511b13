# The two commands a newcomer needs: `make demo` (set up + score CIFAR-10) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The CIFAR-10 image-folder copy beside the project, when there is one (else GANBENCH_DATA or torchvision).
SHARED_DATA := $(abspath ../shared/data/cifar10)
ifeq ($(GANBENCH_DATA),)
ifneq ($(wildcard $(SHARED_DATA)/train),)
export GANBENCH_DATA := $(SHARED_DATA)
endif
endif
# The pretrained surrogate classifiers beside the project, when there (else the cache or download). A folder:
# it serves --classifier resnet56 (resnet56-4bfd9763.th) and resnet20 alike.
SHARED_WEIGHTS := $(abspath ../shared/weights)
ifeq ($(GANBENCH_CLASSIFIER_WEIGHTS),)
ifneq ($(wildcard $(SHARED_WEIGHTS)/resnet56-4bfd9763.th),)
export GANBENCH_CLASSIFIER_WEIGHTS := $(SHARED_WEIGHTS)
endif
endif
# torch/torchvision pins for these machines live in constraints.txt; users elsewhere may drop -c.
PIP_INSTALL := $(BIN)/python -m pip install -q -c constraints.txt

.PHONY: setup demo test lint format bench clean
setup: $(VENV)/.installed
	$(BIN)/ganbench weights fetch

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -e ".[dev]"
	touch $@

# Scores 500 CIFAR-10 test images as "samples" against 1,000 train images (seeded subsets), then writes the
# leaderboard site: about 4 minutes on 2 CPU cores the first time, seconds once features are cached.
# `ganbench demo` without --no-train first trains a small CGAN on CPU for 5 minutes (--minutes).
demo: setup
	$(BIN)/ganbench demo --no-train --workdir runs/demo

test: setup
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/python benchmarks/bench_score.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
