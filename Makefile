# Enishi: `make run` serves the app, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test install messages lint format clean bench faults invite superuser mutants screenshots

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Enishi needs Python 3.11 or newer (set PYTHON=python3.x)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Compiled catalogues are committed, so a machine without gettext still runs;
# where msgfmt exists they are rebuilt from the .po files.
messages: $(STAMP)
	@if command -v msgfmt >/dev/null 2>&1; then \
		$(PY) manage.py compilemessages --ignore=.venv -v0; \
	else \
		echo "msgfmt not found: using the committed translation catalogues"; \
	fi

# The server behind `make run`: Daphne (the default, the Procfile's), or
# uvicorn (`SERVER=uvicorn make run`) with the options of the Procfile's
# uvicorn line, which says what each is for. The same options in both places:
# tests/integration/test_uvicorn.py checks that they agree and serves with them.
SERVER ?= daphne
UVICORN_OPTIONS := --ws websockets-sansio --ws-per-message-deflate false \
	--ws-max-size 1048576 --ws-ping-interval 20 --ws-ping-timeout 30 \
	--timeout-keep-alive 60 --timeout-graceful-shutdown 10 \
	--no-proxy-headers --lifespan off --loop asyncio --http h11
ifneq ($(filter run,$(MAKECMDGOALS)),)
ifneq ($(SERVER),daphne)
ifneq ($(SERVER),uvicorn)
$(error SERVER=$(SERVER): make run serves with daphne (the default) or uvicorn)
endif
endif
endif

run: export DJANGO_DEBUG ?= 1
run: $(STAMP) messages
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
ifeq ($(SERVER),uvicorn)
	$(VENV)/bin/uvicorn --host 127.0.0.1 --port $(PORT) $(UVICORN_OPTIONS) \
		project.asgi:application
else
	$(VENV)/bin/daphne -b 127.0.0.1 -p $(PORT) project.asgi:application
endif

# The commands a person types next to `make run`, on the same machine, database
# and settings (DJANGO_DEBUG=1, so no SECRET_KEY is needed), migrated first so
# they also work before the first `make run`. In production run manage.py with
# the site's own environment instead (README, "Starting a real site").
BASE_URL ?= http://127.0.0.1:$(PORT)

# A single-use /join/<token>/ link with no inviter: the first member of a site.
invite: export DJANGO_DEBUG ?= 1
invite: $(STAMP)
	@$(PY) manage.py migrate --noinput -v0
	@$(PY) manage.py create_invitation --base-url "$(BASE_URL)" --note "$(NOTE)"

# A staff member for /admin/ (asks for a nickname and a password).
# The README's screenshots of the room (docs/screenshots/), from the demo of a
# running `make run` at BASE_URL, in Debian's Chromium (tools/screenshots.py).
screenshots: $(STAMP)
	BASE_URL="$(BASE_URL)" $(PY) tools/screenshots.py

superuser: export DJANGO_DEBUG ?= 1
superuser: $(STAMP)
	@$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py createsuperuser

test: export DJANGO_DEBUG ?= 1
test: $(STAMP) messages
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# A benchmark, not a test: the live path under load against a bare websockets
# ceiling (bench/run.py). PostgreSQL and Redis when they answer (DATABASE_URL,
# REDIS_URL; a database of its own, dropped after), else the embedded default.
# BENCH_ARGS="--profile" adds py-spy profiles; "--scale 0.3" shortens the runs.
bench: $(STAMP)
	ulimit -n 65536 2>/dev/null || ulimit -n $$(ulimit -Hn); $(PY) -m bench.run $(BENCH_ARGS)

# Nothing lost under faults (bench/faults.py): two Daphne processes, a
# redis-server and a PostgreSQL database of its own, 300 tabs following the
# page's protocol while 20 members post; Redis restarted, a server killed,
# Redis down 20 s. One JSON line at the end. FAULTS_ARGS="--scale 0.3" shortens it.
faults: $(STAMP)
	ulimit -n 65536 2>/dev/null || ulimit -n $$(ulimit -Hn); $(PY) -m bench.faults $(FAULTS_ARGS)

# Mutation testing with mutmut ([tool.mutmut] in pyproject.toml): every
# access.py, the actions and the live consumer, each mutant against the tests
# that call the function it changed, on the embedded SQLite and in-memory layer.
# Prints every mutant the tests let live and a count per file and status
# (`.venv/bin/mutmut show NAME` shows one). mutants/ keeps the results: a later
# run retests only the functions that changed. MUTMUT_ARGS='chat.access*' runs
# only the mutants named.
mutants: $(STAMP) messages
	env -u CI -u DATABASE_URL -u REDIS_URL DJANGO_DEBUG=1 \
		$(VENV)/bin/mutmut run $(MUTMUT_ARGS)
	@$(VENV)/bin/mutmut results > mutants/survivors.txt
	@cat mutants/survivors.txt
	@echo "Mutants not killed, per file and status:"
	@awk -F': ' '{ name = $$1; sub(/^ +/, "", name); \
		sub(/\.x[^.]*__mutmut_[0-9]+$$/, "", name); count[name ": " $$2]++ } \
		END { for (key in count) print "  " count[key], key }' \
		mutants/survivors.txt | sort -k2

clean:
	rm -rf $(VENV) staticfiles .pytest_cache mutants
