# Video Understanding with Multimodal LLMs — the course's commands.
#   make course   set up, generate data, build the labs, autograde the sample submissions, print the grades
#   make test     set up and run the whole test suite (what CI runs)
#   make lab      open JupyterLab on the student labs
#   make labs     regenerate labs/ from solutions/
#   make data     generate the course's synthetic clips into data/cache/ (cached), the benchmark manifests, and the
#                 small trained models the lectures load (VQ-VAE, motion tokenizer, the two early-fusion models,
#                 the mini video LLM; each trained once, then cached)
#   make baselines  print the random / blind / frame-limited-oracle table of every benchmark suite
# Every target creates .venv and installs the pinned environment on first use.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Nothing downloads at run time: the hub libraries are switched offline for every command below.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export MPLBACKEND := Agg

.PHONY: setup course test lab labs data baselines clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version.split()[0]' \
		|| { echo "set PYTHON=python3.11 (or newer): make PYTHON=python3.12 test"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing the course environment into $(VENV) (first time: a few minutes, about 6.5 GB with PyTorch)"
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements.lock -e ".[dev]"
	@touch $(STAMP)

data: setup
	$(PY) -m videollm.data build
	$(PY) -m videollm.benchmarks build
	$(PY) -m videollm.vqvae build
	$(PY) -m videollm.motion_tokenizer build
	$(PY) -m videollm.fusion build
	$(PY) -m videollm.mini_vlm build

baselines: setup
	$(PY) -m videollm.benchmarks baselines

labs: setup
	$(PY) -m grader build

course: data labs
	$(PY) -m videollm.benchmarks baselines
	$(PY) -m grader samples
	$(PY) -m grader autograde grader/work/samples

test: setup
	$(PY) -m pytest -n 2 --dist loadscope --durations=12

lab: labs
	$(VENV)/bin/jupyter lab labs

clean:
	rm -rf grader/work data/cache
