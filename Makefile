# The README's commands. Each does its own set-up: venv, install, PostgreSQL and Redis.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-faults install clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/paymentkit dev run

test: $(STAMP)
	$(BIN)/paymentkit dev test $(ARGS)

# Faults and load: the service as gunicorn and Celery subprocesses, private PostgreSQL and Redis
# stopped, frozen and restarted, workers SIGKILLed, the share endpoint under load (docs/reliability.md).
test-faults: $(STAMP)
	$(BIN)/paymentkit dev test -m faults $(ARGS)

clean:
	rm -rf $(VENV) .data
