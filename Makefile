# Two commands do all the set-up on a fresh machine with Python 3.11+ and make:
#   make run    start the daemon on built-in defaults (make demo: a first look)
#   make test   create .venv, install everything, run the test suite
# "Everything" is the package with its tray extra (PySide6) and the test tools; a
# headless machine needs only `pip install p2psync` (make check-wheel checks both).
PYTHON ?= python3
# Python caches the bytecode of what it imports, whatever the environment says
# (PYTHONDONTWRITEBYTECODE): otherwise every daemon, CLI call and test process of a
# run compiles the same modules again (importing the daemon: 0.6 s instead of 0.4).
export PYTHONDONTWRITEBYTECODE :=
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
YJS := tests/interop/node_modules/.package-lock.json
PACKAGING_STAMP := $(VENV)/.packaging

.PHONY: run demo test test-fast soak lint typecheck check bench bench-deps clean system-deps \
	screenshot dist check-wheel bundle docs icons packaging-files

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[tray,test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/p2psync run

demo: $(STAMP)
	$(VENV)/bin/p2psync demo

$(YJS): tests/interop/package.json tests/interop/package-lock.json
	cd tests/interop && npm ci --no-audit --no-fund --loglevel=error

# Debian packages the tests use (iproute2, Xvfb, a tray host, Qt's X libraries,
# systemd-analyze...): installed when missing and we are root.
system-deps:
	bash packaging/system-deps.sh

# The suite on two pytest-xdist workers and, beside it from the start, the soak: three
# minutes of timed chaos on real daemons, which runs as long under the suite's load as
# alone and fills the time the suite's workers spend waiting on their daemons
# (docs/testing.md). The soak's report (its counts, pass or fail) follows the suite's.
# A job started with `&` ignores Ctrl-C unless told otherwise (env --default-signal).
# JOBS=N runs the suite on N workers (JOBS=auto: one per core; JOBS=0: in one process).
# Two is what the suite has passed on, again and again, on a 2-core machine.
JOBS ?= 2
SOAK_TEST := tests/soak/test_soak.py
test: $(STAMP) $(YJS) system-deps
	@soak_log=$$(mktemp); \
	env --default-signal=INT $(PY) -m pytest -q -s $(SOAK_TEST) > $$soak_log 2>&1 & soak=$$!; \
	$(PY) -m pytest -q -n $(JOBS) --ignore=$(SOAK_TEST); suite=$$?; \
	wait $$soak; soaked=$$?; \
	echo "--- the soak ($(SOAK_TEST)), run beside the suite:"; cat $$soak_log; rm -f $$soak_log; \
	test $$suite -eq 0 && test $$soaked -eq 0

# The edit loop: the unit tests (in process: no daemon), one worker per core.
test-fast: $(STAMP)
	$(PY) -m pytest -q -n auto tests/unit

# The end-to-end soak (docs/soak.md): three daemons, random saves, appends, file
# operations, kills and partitions for MINUTES, then a check that nothing was lost.
# Needs root (network namespaces). SEED=N replays a run's choices.
MINUTES ?= 10
soak: $(STAMP) system-deps
	MINUTES=$(MINUTES) SEED=$(SEED) KILL_STORM=$(KILL_STORM) CHUNKED_BYTES=$(CHUNKED_BYTES) \
		$(PY) -m tests.soak.soak

# lint-imports: the import contracts in pyproject.toml (the layers of docs/architecture.md)
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

typecheck: $(PACKAGING_STAMP)  # the docs hook under packaging/ imports mkdocs
	$(PY) -m mypy

check: lint typecheck test

# the README's picture of the tray's status window (docs/img/status-window.png), and
# the History window's in docs/history.md (docs/img/history-window.png)
screenshot: $(STAMP) system-deps
	$(PY) gui/tools/status_screenshot.py docs/img/status-window.png
	$(PY) gui/tools/status_screenshot.py --history docs/img/history-window.png
	$(PY) gui/tools/status_screenshot.py --first-sync docs/img/first-sync.png
	$(PY) gui/tools/status_screenshot.py --first-sync-sender docs/img/first-sync-sender.png

bench: $(STAMP) bench-deps
	$(PY) -m bench

# the anchor of bench/bench_manyfiles.py: Syncthing from Debian
bench-deps:
	command -v syncthing >/dev/null || { apt-get update -qq && apt-get install -y -qq syncthing; }

# Packaging and documentation (packaging/README.md): build tools from the packaging extra.
$(PACKAGING_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[tray,test,packaging]'
	touch $(PACKAGING_STAMP)

dist: $(PACKAGING_STAMP)
	bash packaging/build.sh

check-wheel: dist
	bash packaging/check-wheel.sh

bundle: $(PACKAGING_STAMP)
	bash packaging/bundle.sh

docs: $(PACKAGING_STAMP)
	$(PY) -m mkdocs build --strict --site-dir site

icons: $(STAMP)
	bash packaging/icons/render.sh

packaging-files: $(STAMP)
	$(PY) packaging/render_files.py

clean:
	rm -rf $(VENV) build dist site *.egg-info .mypy_cache .pytest_cache .ruff_cache
