# Two entry points (see README): `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LANGS ?= bo,mn,ug
# The demo writes where the README's commands read and write: luigi.cfg's [cino] work_dir (./work_dir),
# or $CINO_WORK_DIR; a finished demo is a finished run for them.

.PHONY: setup demo test bench experiment

setup: $(VENV)/.installed

# Every package is pinned in requirements.txt (fairseq would pull torchaudio). Bytecode is written
# once for every installed module (16 s on 2 cores): where PYTHONDONTWRITEBYTECODE is set (it is on
# the development machines) no import writes it, and each process would compile torch, fairseq and
# transformers from source again (4-5 s a process, half of the tests' small build).
$(VENV)/.installed: requirements.txt pyproject.toml   # a new package needs the editable install again
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --no-compile --no-deps -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m compileall -q -j 0 -x 'torch/testing/_internal/py312_intrinsics' $(VENV)/lib
	touch $@

demo: setup
	$(BIN)/luigi --module pipeline BuildCINO --lang $(LANGS) --local-scheduler --workers 2

test: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile   # two processes, each running a whole test file at a time

# The CPU experiment (not part of make test; 52 minutes on 2 cores at 5fc40ba, setup included): docs/EXPERIMENTS.md.
experiment: setup
	$(BIN)/python bench/experiment.py --profile small-cpu --langs $(LANGS)

bench: setup
	$(BIN)/python bench/corpus_throughput.py
	$(BIN)/python bench/vocab_throughput.py
	$(BIN)/python bench/train_throughput.py
	$(BIN)/python bench/eval_throughput.py
