# asen-book: `make test` and `make book` set everything up on a fresh machine (Python 3.10+).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: test install clean reproduce ablations book book-smoke book-check notebooks-smoke

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -e '.[test,book]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)  ## create .venv and install the package with its test extras

test: $(STAMP)  ## run the test suite
	$(PY) -m pytest -q

reproduce: $(STAMP)  ## the main table on SynthFashion, CPU, 3 seeds (results/synthfashion/main_table.{json,md})
	$(VENV)/bin/asen reproduce --profile cpu

ablations: $(STAMP)  ## ablations on SynthFashion (results/synthfashion/ablations.{json,md,png})
	$(VENV)/bin/asen reproduce --profile cpu --ablations-only

# The book: tools/execute_notebooks.py runs the chapters (notebooks/NN_*.py) with papermill into notebooks/*.ipynb
# (skipping those whose source, parameters and asen sources are unchanged), then Jupyter Book renders them;
# warnings are errors. See book/CONTRIBUTING-chapters.md.
JB_BUILD := $(VENV)/bin/jupyter-book build . -W -n --keep-going

book: $(STAMP)  ## execute every chapter (cpu profile) and build the HTML book into _build/html
	$(PY) tools/execute_notebooks.py --profile cpu --results-dir results/book
	$(JB_BUILD)

notebooks-smoke: $(STAMP)  ## execute every chapter with the smoke profile (tiny data, a few training steps)
	$(PY) tools/execute_notebooks.py --profile smoke --results-dir results/book-smoke

book-smoke: notebooks-smoke  ## the book with the smoke profile, in minutes
	$(JB_BUILD)

book-check: book-smoke  ## book-smoke, then every page opened in headless Chromium (installed with apt-get if missing)
	$(PY) tools/check_book.py _build/html

clean:
	rm -rf _build book/_build runs results
