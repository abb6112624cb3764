# Two entry points for a fresh machine: `make demo` (the main job) and `make test`.
# Both create .venv and install what they need on first use.

VENV ?= .venv
PY := $(VENV)/bin/python
# The tested pair; torchaudio's wheels need a matching CUDA build of torch (runs on CPU too).
TORCH := torch==2.14.1 torchaudio==2.11.0
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint docs bench clean

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q --upgrade pip
	$(PY) -m pip install --disable-pip-version-check -q $(TORCH)
	$(PY) -m pip install --disable-pip-version-check -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/console demo out/demo

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile

# The subset that runs in a few minutes: everything not marked slow.
test-fast: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples

docs: $(STAMP)
	$(VENV)/bin/sphinx-build -W -b html docs docs/_build/html

bench: $(STAMP)
	$(PY) benchmarks/bench_console.py

clean:
	rm -rf $(VENV) out docs/_build
