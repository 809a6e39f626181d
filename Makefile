# Video Understanding with Multimodal LLMs — the course's commands.
#   make course   set up, generate data, build the labs, autograde the sample submissions, print the grades
#   make test     set up and run the whole test suite (what CI runs)
#   make lab      copy the labs you do not have yet into my-labs/ (never over your work), open JupyterLab there
#   make submit LAB=lab01_vit_patching STUDENT=you   check your notebook and pack it for the grader (submit/)
#   make labs     regenerate labs/ from solutions/ (instructors; never touches my-labs/ or a hand-edited file)
#   make data     generate the course's synthetic clips into data/cache/ (cached), the benchmark manifests, and the
#                 small trained models the lectures load (VQ-VAE, motion tokenizer, the two early-fusion models,
#                 the mini video LLM and its needle reader, unit 07's binding encoders, decoders and NExT-GPT,
#                 unit 08's audio and causal video tokenizers and its VideoPoet LM; each committed in data/weights
#                 or trained once, then cached)
#   make baselines  print the random / blind / frame-limited-oracle table of every benchmark suite
#   make book     render the course as a website (book/_build/html) and check every page in headless Chromium
# Every target creates .venv and installs the pinned environment on first use.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Nothing downloads at run time: the hub libraries are switched offline for every command below.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export MPLBACKEND := Agg

WORKSPACE := $(or $(VIDEOLLM_WORKSPACE),my-labs)
LABS ?=  # course: grade only these labs (default all), e.g. make course LABS=lab00_video_as_data

.PHONY: setup system course test lab workspace submit labs data baselines book clean

setup: system $(STAMP)

# The grader sandboxes student code with bubblewrap, and its tests start a one-node Slurm (slurm-wlm, munge); the
# book's test opens every page in Chromium. As root on Debian/Ubuntu (CI) they are installed here; elsewhere
# install them yourself (see README, "For instructors" and "The course as a book"): without bubblewrap, grading
# refuses unless told --unsafe. Chromium gets its own install, which only warns if it fails (on Ubuntu the package
# is a snap shim), so that it never keeps the grader's tools out.
SYSTEM_TOOLS := bwrap slurmctld munged
system:
	@missing=""; for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || browser=chromium; \
	if [ -n "$$missing$$browser" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq; \
			if [ -n "$$missing" ]; then \
				echo "installing bubblewrap, slurm-wlm and munge (missing:$$missing)"; \
				DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap slurm-wlm munge >/dev/null; \
			fi; \
			if [ -n "$$browser" ]; then \
				echo "installing chromium (the book's browser test)"; \
				DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
					|| echo "note: chromium did not install; the book's browser test will be skipped (CI: fail)"; \
			fi; \
		else \
			echo "note: missing$$missing $$browser; the grader needs bubblewrap (its Slurm test slurm-wlm, munge; the" \
				"book's test chromium): see README"; \
		fi; \
	fi

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version.split()[0]' \
		|| { echo "set PYTHON=python3.11 (or newer): make PYTHON=python3.12 test"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing the course environment into $(VENV) (first time: a few minutes, about 6.5 GB with PyTorch)"
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements.lock -e ".[dev]"
	@touch $(STAMP)

data: setup
	$(PY) -m videollm.world.data build
	$(PY) -m videollm.world.suites build
	$(PY) -m videollm.vq.train build
	$(PY) -m videollm.motion.tokenizer build
	$(PY) -m videollm.fusion.train build
	$(PY) -m videollm.vlm.mini build
	$(PY) -m videollm.compress build
	$(PY) -m videollm.anyany build
	$(PY) -m videollm.videopoet.audio build
	$(PY) -m videollm.videopoet.tokenizer build
	$(PY) -m videollm.videopoet.mixture build

baselines: setup
	$(PY) -m videollm.eval.baselines

book: setup
	$(PY) -m book build
	$(PY) -m book check

labs: setup
	$(PY) -m grader build

course: data labs
	$(PY) -m videollm.eval.baselines
	$(PY) -m grader samples $(if $(LABS),--labs $(LABS))
	$(PY) -m grader autograde grader/work/samples --jobs 2 $(if $(LABS),--labs $(LABS))

test: setup
	$(PY) -m pytest -n 2 --dist loadscope --durations=12

workspace: setup
	$(PY) -m grader workspace

lab: workspace
	$(VENV)/bin/jupyter lab $(WORKSPACE)

submit: setup
	@test -n "$(LAB)" -a -n "$(STUDENT)" || { echo "usage: make submit LAB=lab01_vit_patching STUDENT=<your login>"; exit 2; }
	$(PY) -m grader submit $(WORKSPACE)/$(LAB)/$(LAB).ipynb --student $(STUDENT)

clean:
	rm -rf grader/work data/cache book/_build
