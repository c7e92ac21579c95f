# Everything a newcomer needs: `make demo` runs the example site on its
# embedded default (SQLite + the local sandbox); `make test` runs the tests.
# Both create the virtual environment they need on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SANDBOX_PORT ?= 8765
DEMO_PORT ?= 8000

.PHONY: help install test test-long coverage lint format demo sandbox messages mutation mutants docs diagrams bench chaos clean

help:
	@echo "make demo     run the example site with the local kod.mobi sandbox"
	@echo "make test     run the test suite (SQLite + local-memory cache; about a minute)"
	@echo "make test-long  Chromium, schemathesis and the README followed literally"
	@echo "make lint     ruff format --check, ruff check, mypy"
	@echo "make sandbox  run only the kod.mobi sandbox on :$(SANDBOX_PORT)"
	@echo "make docs     build the documentation site into build/site"
	@echo "make bench    the speed targets: a login against the floor, by hand, allauth, served (BENCH_QUICK=1: short)"
	@echo "make chaos    the example site under gunicorn while its parts fail (CHAOS_SECONDS)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,lint,example,docs,passkeys]'
	touch $(STAMP)

install: $(STAMP)

# The demo needs only the app and django-environ, not the test and lint tools.
DEMO_STAMP := $(VENV)/.demo-installed
$(DEMO_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[example]'
	touch $(DEMO_STAMP)

# The fast loop: the suite with branch coverage, then the custom-user pass
# (the user model cannot be swapped within one process). The client and the
# sandbox must stay at 95 % branch coverage or more. The long suites
# (Chromium, schemathesis, the README followed literally) are `make
# test-long`; .ci/run runs both.
FAST_TESTS := -m "not browser and not docs" --ignore=tests/test_schema_fuzz.py
test: $(STAMP)
	$(BIN)/python -m pytest --cov --cov-report= $(FAST_TESTS) $(PYTEST_ARGS)
	$(BIN)/python -m pytest --cov --cov-append --cov-report= \
		--ds=tests.settings_phone_user tests/test_custom_user.py $(PYTEST_ARGS)
	$(BIN)/python -m coverage report
	$(BIN)/python -m coverage report --fail-under=95 \
		--include='django_kodmobi/client/*,django_kodmobi/sandbox/*'

# Headless Chromium (skipped without Debian's chromium), the schemathesis
# run of the API, and every how-to of the README done literally in new
# projects (tests/test_literal_docs*.py).
test-long: $(STAMP)
	$(BIN)/python -m pytest --no-cov -m browser $(PYTEST_ARGS)
	$(BIN)/python -m pytest --no-cov -m docs $(PYTEST_ARGS)
	$(BIN)/python -m pytest --no-cov tests/test_schema_fuzz.py $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy django_kodmobi tests example_project benchmarks tools mkdocs_hooks.py .ci/same_wheels.py

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

sandbox: $(DEMO_STAMP)
	$(BIN)/python -m django_kodmobi.sandbox --port $(SANDBOX_PORT)

demo: $(DEMO_STAMP)
	$(BIN)/python example_project/run_demo.py --port $(DEMO_PORT) --sandbox-port $(SANDBOX_PORT)

# The documentation site (MkDocs): its pages take their sections from
# README.md. Strict: a broken link or a missing snippet fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# Redraw docs/diagrams/*.svg after their .mmd sources change (Mermaid from
# the npm registry, drawn in Chromium): the site then loads no script.
diagrams: $(STAMP)
	$(BIN)/python tools/render_diagrams.py

# Mutation testing of the modules that hold the rules (see [tool.mutmut] in
# pyproject.toml); slow, so not part of `make test`. `mutmut results` lists
# the survivors, `mutmut show NAME` shows one.
mutation: $(STAMP)
	$(BIN)/python -m pip install --quiet "mutmut>=3.3"
	$(BIN)/mutmut run --max-children 2
	$(BIN)/mutmut results

# Hand-made rule mutants (tests/rule_mutants.py): each breaks one rule and
# runs the tests that pin it. MUTANTS=limits runs those of one file.
mutants: $(STAMP)
	$(BIN)/python -m tests.rule_mutants $(MUTANTS)

# Refresh the ru catalogues after changing translatable strings, then
# translate the new entries (tests fail on untranslated ones).
messages: $(STAMP)
	for dir in django_kodmobi example_project; do \
		(cd $$dir && ../$(BIN)/django-admin makemessages -l ru --no-obsolete \
			&& ../$(BIN)/django-admin compilemessages) || exit 1; \
	done

# A full login side by side with a hand-written floor, the same statements
# by hand, allauth, kod.mobi 30 ms away, and served under gunicorn, on
# SQLite and (when they answer on 127.0.0.1) PostgreSQL + Redis; a table of
# the targets, then the last line, JSON (benchmarks/bench_compare.py).
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m benchmarks.bench_compare

# The example site under gunicorn (2 workers) on PostgreSQL (127.0.0.1:5432)
# and a redis-server of its own, with mixed traffic while a worker is killed,
# Redis is killed and restarted, and kod.mobi stalls then fails. Fails unless
# the JSON of its last line says nothing broke (see benchmarks/chaos.py).
# CHAOS_FLAGS= (empty) reports the recovery times without failing on them.
CHAOS_SECONDS ?= 90
CHAOS_FLAGS ?= --gate-recovery
chaos: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench,redis]'
	$(BIN)/python -m benchmarks.chaos --seconds $(CHAOS_SECONDS) $(CHAOS_FLAGS)

clean:
	rm -rf $(VENV) .coverage htmlcov .mypy_cache .ruff_cache build dist *.egg-info mutants
