# IT help desk: `make run` starts everything (demo mode), `make test` runs every suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export HELPDESK_DATA_DIR ?= $(CURDIR)/var
export RASA_PORT ?= 5005
export ACTIONS_PORT ?= 5055
export HELPDESK_PORT ?= 8000
export RASA_URL ?= http://127.0.0.1:$(RASA_PORT)
export HELPDESK_URL ?= http://127.0.0.1:$(HELPDESK_PORT)
export ACTIONS_URL ?= http://127.0.0.1:$(ACTIONS_PORT)/webhook
export RASA_TRACKER_DB ?= $(HELPDESK_DATA_DIR)/rasa_tracker.db
export RASA_EVENTS_DB ?= $(HELPDESK_DATA_DIR)/rasa_events.db
export RASA_CACHE_DIRECTORY ?= $(HELPDESK_DATA_DIR)/rasa-cache
export RASA_TELEMETRY_ENABLED := false
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1

# The first interpreter of each version that really runs (a pyenv shim may exist but not be active).
find_python = $(shell for p in $$(command -v python$(1) 2>/dev/null) $$HOME/.pyenv/versions/$(1)*/bin/python$(1) /usr/bin/python$(1) /usr/local/bin/python$(1); do \
	"$$p" -c 'import sys; sys.exit(sys.version_info[:2] != tuple(map(int, "$(1)".split("."))))' 2>/dev/null && { echo "$$p"; break; }; done)
PY311 ?= $(call find_python,3.11)
PY310 ?= $(call find_python,3.10)
VENV := .venv
VENV_BOT := .venv-bot
RASA := $(CURDIR)/$(VENV_BOT)/bin/rasa
MODELS := $(HELPDESK_DATA_DIR)/models
DEMO_ENV := $(HELPDESK_DATA_DIR)/demo.env

.PHONY: help install system-deps sentence-model run train test test-service test-kb test-deploy test-actions test-bot test-e2e test-conversations test-channels test-browser test-load screenshots lint bench lock clean

help:
	@echo "make run    install what is missing, train the bot if its data changed, start everything (demo mode)"
	@echo "make test   install what is missing and run every test suite"
	@echo "make bench  run the benchmarks and write bench/results/ (REPORT.md, plots); BENCH_QUICK=1: a quick check"

# The rules for customer text (libs/helpdesk-text, standard library only) go into both environments.
TEXT_LIB := libs/helpdesk-text

$(VENV)/.installed: pyproject.toml requirements/service.txt $(TEXT_LIB)/pyproject.toml
	@test -n "$(PY311)" || { echo "Python 3.11 is needed for the service: install it (e.g. 'pyenv install 3.11') and retry"; exit 1; }
	test -x $(VENV)/bin/python || $(PY311) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e $(TEXT_LIB)
	$(VENV)/bin/pip install -q -c requirements/service.txt -e '.[test,bench,export]'
	touch $@

$(VENV_BOT)/.installed: requirements/bot.txt $(TEXT_LIB)/pyproject.toml
	@test -n "$(PY310)" || { echo "Python 3.10 is needed for Rasa 3.6 (it does not install on 3.11): install it, e.g. 'pyenv install 3.10' or 'apt-get install python3.10', then retry"; exit 1; }
	test -x $(VENV_BOT)/bin/python || $(PY310) -m venv $(VENV_BOT)
	$(VENV_BOT)/bin/pip install -q --upgrade pip 'setuptools<70' wheel
	$(VENV_BOT)/bin/pip install -q -r requirements/bot.txt
	$(VENV_BOT)/bin/pip install -q -e $(TEXT_LIB)
	touch $@

install: $(VENV)/.installed $(VENV_BOT)/.installed

# System packages the tests need, installed only when missing: OpenLDAP's slapd (LDAP directory tests), psql (deploy/postgres/init.sh)
# and docker-compose (validates docker-compose.yml without a Docker engine).
system-deps:
	@missing=""; \
	{ command -v slapd >/dev/null 2>&1 || test -x /usr/sbin/slapd; } || missing="$$missing slapd ldap-utils"; \
	command -v docker-compose >/dev/null 2>&1 || missing="$$missing docker-compose"; \
	command -v psql >/dev/null 2>&1 || missing="$$missing postgresql-client"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

BOT_INPUTS := bot/config.yml bot/domain.yml $(shell find bot/data -name '*.yml' 2>/dev/null)
# The sentence model of the bot's NLU (bot/nlu/sentence_embeddings.py), exported once to ONNX from the
# service's environment (Rasa's has no torch): from the PyPI package, nothing downloaded.
export HELPDESK_SENTENCE_MODEL_DIR ?= $(HELPDESK_DATA_DIR)/nlu/all-minilm-l6-v2
SENTENCE_MODEL := $(HELPDESK_SENTENCE_MODEL_DIR)/model.onnx

$(SENTENCE_MODEL): scripts/export_sentence_model.py | $(VENV)/.installed
	$(VENV)/bin/python -W ignore scripts/export_sentence_model.py $(HELPDESK_SENTENCE_MODEL_DIR)

sentence-model: $(SENTENCE_MODEL)

# Retrains when the bot's data or config is newer than the last model; Rasa's fingerprinted training
# cache (RASA_CACHE_DIRECTORY) then retrains only the parts of the pipeline whose inputs changed.
$(MODELS)/.trained: $(BOT_INPUTS) bot/nlu/sentence_embeddings.py $(SENTENCE_MODEL) | $(VENV_BOT)/.installed
	@mkdir -p $(MODELS)
	cd bot && start=$$(date +%s) && $(RASA) train --out $(MODELS) && echo "bot trained in $$(( $$(date +%s) - start )) s"
	touch $@

train: $(MODELS)/.trained

run: export HELPDESK_DEMO ?= true
run: install train
	@$(VENV)/bin/helpdesk demo seed --env-file $(DEMO_ENV)
	@$(VENV)/bin/helpdesk demo info --env-file $(DEMO_ENV)
	$(VENV)/bin/honcho -f Procfile -e $(DEMO_ENV) start

# Format, lint, types (the service on 3.11; the bot and the text rules on 3.10, Rasa's), the import rules
# (pyproject.toml, bot/importlinter.ini) and no tracker issue numbers in comments.
LINTED := handoff_api knowledge_base tests bench bot libs scripts
lint: install
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/mypy handoff_api knowledge_base
	$(VENV)/bin/mypy --python-version 3.10 $(TEXT_LIB)/helpdesk_text
	cd bot && $(CURDIR)/$(VENV)/bin/mypy --config-file ../pyproject.toml --python-executable $(CURDIR)/$(VENV_BOT)/bin/python --python-version 3.10 --explicit-package-bases actions connectors nlu
	$(VENV)/bin/lint-imports
	cd bot && $(CURDIR)/$(VENV)/bin/lint-imports --config importlinter.ini
	$(VENV)/bin/python scripts/check_comments.py

test-service: $(VENV)/.installed system-deps
	$(VENV)/bin/python -m pytest tests/service

test-kb: $(VENV)/.installed
	$(VENV)/bin/python -m pytest tests/knowledge_base

test-actions: install
	$(VENV_BOT)/bin/python -m pytest tests/actions

test-bot: train
	cd bot && $(RASA) data validate --fail-on-warnings
	cd bot && $(RASA) test core --model $(MODELS) --stories tests --fail-on-prediction-errors --out $(HELPDESK_DATA_DIR)/rasa-test-results

test-e2e: install train
	$(VENV)/bin/python -m pytest tests/e2e

# Simulated customers (the held-out scenarios, a few of each kind) over socket.io on the real stack;
# all of them run in `make bench` (bench/conversations.py).
test-conversations: install train
	$(VENV)/bin/python -m pytest tests/conversations

# Many customers (socket.io) and agents (API) at once on the real stack, every message counted at both
# ends (tests/load). Small by default; HELPDESK_LOAD_FULL=1 (CI) runs 200 customers and 20 agents.
test-load: install train
	$(VENV)/bin/python -m pytest tests/load

# Messenger channels: the connectors (in Rasa's environment) and the handoff loop over `callback`.
test-channels: install train
	$(VENV_BOT)/bin/python -m pytest tests/channels

# A Debian package, as root or through sudo.
define apt_install
	SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1)
endef

# Browser tests drive Debian's chromium through Playwright, which never downloads a browser of its own.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@echo "installing Debian's chromium (browser tests)"
	$(call apt_install,chromium)

test-browser: install train $(CHROMIUM)
	$(VENV)/bin/python -m pytest tests/browser

# Re-takes docs/screenshots/*.png from the browser tests.
screenshots: install train $(CHROMIUM)
	UPDATE_SCREENSHOTS=1 $(VENV)/bin/python -m pytest tests/browser -k "round_trip or screenshot"

test-deploy: $(VENV)/.installed system-deps
	$(VENV)/bin/python -m pytest tests/deploy

test: lint test-service test-kb test-deploy test-actions test-bot test-e2e test-conversations test-channels test-browser test-load

# Every benchmark, then the report (bench/report/): bench/results/*.json, REPORT.md, README_TABLE.md and *.png.
# `make bench BENCH_QUICK=1` runs small sizes into $(HELPDESK_DATA_DIR)/bench/results-quick instead,
# to check that everything runs without touching the committed figures.
ifneq ($(strip $(BENCH_QUICK)),)
BENCH_RESULTS ?= $(HELPDESK_DATA_DIR)/bench/results-quick
BENCH_FLAGS := --quick
THROUGHPUT_FLAGS := --count 100 --clients 8 --seconds 10 --rounds 1
PACED_TURNS := 10
else
BENCH_RESULTS ?= $(CURDIR)/bench/results
BENCH_FLAGS :=
THROUGHPUT_FLAGS :=
PACED_TURNS := 60
endif

# The service throughput bench sends its requests with wrk (bench/wrk_jobs.lua).
WRK := /usr/bin/wrk
$(WRK):
	@echo "installing Debian's wrk (service throughput bench)"
	$(call apt_install,wrk)

bench: install train $(WRK)
	@mkdir -p $(BENCH_RESULTS)
	$(VENV)/bin/python bench/kb_search.py $(BENCH_FLAGS) --out $(BENCH_RESULTS)/kb_search.json
	$(VENV)/bin/python bench/kb_import.py $(BENCH_FLAGS) --out $(BENCH_RESULTS)/kb_import.json
	$(VENV)/bin/python bench/kb_quality.py $(BENCH_FLAGS) --out $(BENCH_RESULTS)/kb_quality.json
	$(VENV)/bin/python bench/kb_quality.py $(BENCH_FLAGS) --german --out $(BENCH_RESULTS)/kb_quality_de.json
	$(VENV)/bin/python bench/service_throughput.py $(THROUGHPUT_FLAGS) --out $(BENCH_RESULTS)/service_throughput.json
	$(VENV)/bin/python bench/footprint.py $(BENCH_FLAGS) --out $(BENCH_RESULTS)/footprint.json
	$(VENV)/bin/python bench/bot_latency.py $(BENCH_FLAGS) --out $(BENCH_RESULTS)/bot_latency.json
	$(VENV)/bin/python bench/bot_latency.py $(BENCH_FLAGS) --concurrency 10 --think 5 --flows baseline,kb,handoff \
		--turns $(PACED_TURNS) --out $(BENCH_RESULTS)/bot_latency_paced.json
	$(VENV)/bin/python bench/handoff_latency.py $(BENCH_FLAGS) --out $(BENCH_RESULTS)/handoff_latency.json
	$(VENV)/bin/python bench/scale_out.py $(BENCH_FLAGS) --out $(BENCH_RESULTS)/scale_out.json
	$(VENV)/bin/python -m bench.report --results $(BENCH_RESULTS)

# Re-pin both environments from what is installed now.
lock:
	$(VENV)/bin/pip freeze --exclude-editable | sed 's/^torch==\(.*\)+cpu$$/torch==\1/' > requirements/service.txt
	$(VENV_BOT)/bin/pip freeze > requirements/bot.txt

clean:
	rm -rf $(HELPDESK_DATA_DIR)
