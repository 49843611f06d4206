# Quick start: `make demo` runs the main job on built-in data, `make test` runs the suite.
# Both create .venv on first use and install pinned versions from constraints.txt.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test bench clean

$(STAMP): setup.py constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade "pip==24.3.1"
	$(PIP) install -q -c constraints.txt -e ".[dev,examples,progress,genome]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m examples.genomics.pipeline --out demo_output

test: $(STAMP)
	$(PY) -m pytest -q tests

bench: $(STAMP)
	$(PY) benchmarks/bench_scoring.py
	$(PY) benchmarks/bench_genomics.py
	$(PY) benchmarks/bench_scale.py
	$(PY) benchmarks/bench_applications.py
	$(PY) benchmarks/bench_sequence_models.py

clean:
	rm -rf $(VENV) demo_output build *.egg-info
