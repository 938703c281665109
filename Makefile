# asen-book: `make test` and `make book` set everything up on a fresh machine (Python 3.10+).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: test install clean reproduce ablations

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

clean:
	rm -rf _build book/_build runs results
