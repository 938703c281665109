# asen-book: `make test` and `make book` set everything up on a fresh machine (Python 3.10+).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# constraints.txt pins the exact versions the tests last passed with (`make lock` refreshes it); `make install
# CONSTRAINTS=` installs the newest versions pyproject.toml's ranges allow instead (e.g. on another platform).
CONSTRAINTS ?= constraints.txt
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(CONSTRAINTS) | cksum | cut -d' ' -f1)

.PHONY: test test-fast install lock clean reproduce ablations book book-smoke book-check notebooks-smoke

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) -e '.[test,book]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)  ## create .venv and install the package with its test extras, at the versions of constraints.txt

# Resolve the newest versions pyproject.toml allows in a scratch venv and write them to constraints.txt.
# Then run `make test` (it reinstalls .venv at the new versions) and commit constraints.txt if it passes.
lock:  ## refresh constraints.txt (then: make test, and commit it)
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install -e '.[test,book]'
	{ sed -n '1,2p' constraints.txt; .venv-lock/bin/python -m pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf .venv-lock

test: $(STAMP)  ## run the test suite, end-to-end tests included
	$(PY) -m pytest -q

# `slow` marks the end-to-end tests (chapters, distributed, reproduce, dataset generation): `make test` runs them.
test-fast: $(STAMP)  ## the test suite without the end-to-end tests (pytest -m "not slow"), for the edit loop
	$(PY) -m pytest -q -m "not slow"

reproduce: $(STAMP)  ## the main table on SynthFashion, CPU, 3 seeds (results/synthfashion/main_table.{json,md})
	$(VENV)/bin/asen reproduce --profile cpu

ablations: $(STAMP)  ## ablations on SynthFashion (results/synthfashion/ablations.{json,md,png})
	$(VENV)/bin/asen reproduce --profile cpu --ablations-only

# The book: tools/execute_notebooks.py runs the chapters (notebooks/NN_*.py) with papermill into notebooks/*.ipynb
# (skipping those whose source, parameters and asen sources are unchanged), then Jupyter Book renders them;
# warnings are errors. See book/CONTRIBUTING-chapters.md.
JB_BUILD := $(VENV)/bin/jupyter-book build . -W -n --keep-going

# MathJax is served from the book itself (npm's mathjax package, unpacked into book/_mathjax/mathjax, a static path
# of _config.yml copied into the build's _static; its mathjax_path points at it), so formulas render without
# internet. Not under a _static folder at the book's root: Jupyter Book would add every .js file there to every page.
MATHJAX_VERSION := 3.2.2
MATHJAX := book/_mathjax/mathjax/tex-mml-chtml.js
$(MATHJAX):
	@command -v npm >/dev/null || { echo "error: npm not found; the book serves MathJax $(MATHJAX_VERSION) from npm's mathjax package: install Node.js (apt-get install -y npm) and retry" >&2; exit 2; }
	rm -rf book/_mathjax .mathjax-tmp && mkdir -p .mathjax-tmp book/_mathjax
	cd .mathjax-tmp && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null && tar xzf mathjax-$(MATHJAX_VERSION).tgz
	cp .mathjax-tmp/package/LICENSE .mathjax-tmp/package/es5/ && mv .mathjax-tmp/package/es5 book/_mathjax/mathjax
	rm -rf .mathjax-tmp

book: $(STAMP) $(MATHJAX)  ## execute every chapter (cpu profile) and build the HTML book into _build/html
	$(PY) tools/execute_notebooks.py --profile cpu --results-dir results/book
	$(JB_BUILD)

notebooks-smoke: $(STAMP)  ## execute every chapter with the smoke profile (tiny data, a few training steps)
	$(PY) tools/execute_notebooks.py --profile smoke --results-dir results/book-smoke

book-smoke: notebooks-smoke $(MATHJAX)  ## the book with the smoke profile, in minutes
	$(JB_BUILD)

book-check: book-smoke  ## book-smoke, then every page opened in headless Chromium (installed with apt-get if missing)
	$(PY) tools/check_book.py _build/html

clean:
	rm -rf _build book/_build runs results book/_mathjax .mathjax-tmp
