# Xueshi: `make run` serves the demo on http://127.0.0.1:8000, `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
WORKERS ?= 4
THREADS ?= 4
PYTEST_ARGS ?=
export FLASK_APP := wsgi

.PHONY: run test venv translations migrate demo worker system-packages clean bench-heartbeats bench-media css bench-reports

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

venv: $(BIN)/.installed

translations: venv
	$(BIN)/pybabel compile -d app/translations -f

migrate: venv translations
	mkdir -p instance media
	$(BIN)/flask db upgrade

demo: migrate
	$(BIN)/flask demo

# Serve the demo: migrate, load the demo data (idempotent), start the job workers and gunicorn.
run: demo
	@echo "Xueshi on http://127.0.0.1:$(PORT)  (admin / demo-admin, learner1 / demo-learner)"
	@$(BIN)/flask media worker & media=$$!; \
	$(BIN)/flask reports worker & reports=$$!; \
	$(BIN)/flask notifications worker & mailer=$$!; \
	trap "kill $$media $$reports $$mailer 2>/dev/null" EXIT INT TERM; \
	WORKERS=$(WORKERS) THREADS=$(THREADS) $(BIN)/gunicorn -c deploy/gunicorn.conf.py \
	  --bind 127.0.0.1:$(PORT) --access-logfile - wsgi:app

# System packages the browser, media and nginx tests need (Debian; installed once when missing).
system-packages:
	@bash deploy/ensure-system-packages.sh

test: venv translations system-packages
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

# Rebuild app/static/vendor/bootstrap/ (Bootstrap from npm, purged to the classes the app names); commit the output.
css:
	npm ci --prefix tools/css --no-audit --no-fund --silent
	node tools/css/build.mjs

bench-heartbeats: venv translations
	$(BIN)/python bench/heartbeats.py

bench-media: venv translations
	$(BIN)/python bench/media.py

bench-reports: venv translations
	$(BIN)/python bench/reports.py

clean:
	rm -rf $(VENV) instance/*.db instance/*.db-* .pytest_cache
