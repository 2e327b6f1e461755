# Two entry points: `make demo` and `make test`. Both create .venv/ with pinned dependencies.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := postgresql espeak-ng sox gcc-arm-none-eabi libnewlib-arm-none-eabi \
	libstdc++-arm-none-eabi-dev qemu-system-arm dataset-fashion-mnist chromium chromium-driver
DEMO_STUDY := demo
DEMO_STORAGE := sqlite:///studies/demo.db

.PHONY: demo test install install-test system-packages clean-demo bench

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# Debian packages the datasets, firmware, database and browser tests use; installed only when
# running as root on a machine with apt, and only those that are missing.
system-packages:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		missing=""; for p in $(APT_PACKAGES); do \
			dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
		done; \
		if [ -n "$$missing" ]; then \
			echo "installing Debian packages:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		fi; \
	else echo "not root with apt: skipping Debian packages ($(APT_PACKAGES))"; fi

demo: install
	$(BIN)/tinynas search --board arduino_nano33_ble --space ds_cnn --dataset digits \
		--trials 10 --timeout 240 --epochs 10 --storage $(DEMO_STORAGE) \
		--study $(DEMO_STUDY) --seed 0
	$(BIN)/tinynas pareto --storage $(DEMO_STORAGE) --study $(DEMO_STUDY)
	$(BIN)/tinynas export --storage $(DEMO_STORAGE) --study $(DEMO_STUDY) --trial best \
		--out firmware/build

test: install-test system-packages
	$(BIN)/ruff check tinynas tests bench
	$(BIN)/mypy tinynas
	$(BIN)/python -m pytest -q -ra

bench: install-test
	$(BIN)/python -m bench.run_all
