# PostgreSQL Reviewer — `make run` starts the service, `make test` runs the whole suite.
# Both do their own set-up on a fresh machine (virtualenv, packages, Redis, PostgreSQL).

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

# The test suite runs on PostgreSQL, with its own Redis databases for broker and cache, and
# with DEBUG off as in production, served over plain http on loopback.
TEST_ENV := DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/reviewer} \
	REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/13} \
	CACHE_URL=$${TEST_CACHE_URL:-redis://127.0.0.1:6379/14} \
	REVIEWER_PUBLIC_READ=false \
	DJANGO_DEBUG=false DJANGO_SECRET_KEY=test-suite-only-not-a-secret \
	DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost,testserver \
	DJANGO_SECURE_SSL_REDIRECT=false DJANGO_SECURE_COOKIES=false DJANGO_HSTS_SECONDS=0

# `make run` is the local default: DEBUG on (admin static files, dev secret key, any host).
RUN_ENV := DJANGO_DEBUG=$${DJANGO_DEBUG:-true}

.PHONY: run serve test lint system venv services migrate clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

system:
	@scripts/ensure-system.sh

services:
	@scripts/ensure-services.sh

lint: venv
	$(VENV)/bin/ruff check .
	$(RUN_ENV) $(PY) manage.py makemigrations --check --dry-run

test: system venv
	@$(TEST_ENV) scripts/ensure-services.sh
	$(VENV)/bin/ruff check .
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)

migrate: venv services
	$(RUN_ENV) $(PY) manage.py migrate --noinput

run: system venv services migrate
	@$(RUN_ENV) PORT=$(PORT) scripts/run.sh

# The production web process (granian + WhiteNoise), with the environment as it is: DJANGO_DEBUG
# is off unless set, so the production variables are needed (deploy/reviewer.env.example).
serve: venv
	@scripts/serve.sh

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* staticfiles var
