# The README's commands. Each does its own set-up: venv, install, PostgreSQL and Redis.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-faults bench install clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# ARGS: which Procfile processes (default web worker beat), e.g. make run ARGS="web worker".
run: $(STAMP)
	$(BIN)/paymentkit dev run $(ARGS)

test: $(STAMP)
	$(BIN)/paymentkit dev test $(ARGS)

# Faults and load: the service as gunicorn and Celery subprocesses, private PostgreSQL and Redis
# stopped, frozen and restarted, workers SIGKILLed, the share endpoint under load (docs/reliability.md).
test-faults: $(STAMP)
	$(BIN)/paymentkit dev test -m faults $(ARGS)

# Benchmarks (bench/README.md): a table of ratios against baselines run in the same command.
# wrk comes from the OS packages when it can be installed; otherwise a Python load generator.
bench: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } || \
		echo "wrk is not installed and could not be: the share bench uses its Python load generator"
	$(BIN)/python -m bench $(ARGS)

# The private PostgreSQL and Redis (if any run under .data/) are stopped before their files go.
clean:
	test ! -x $(BIN)/python || $(BIN)/python -m paymentkit.servers stop .data
	rm -rf $(VENV) .data
