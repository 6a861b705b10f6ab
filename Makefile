# The two commands of the README: `make demo` and `make test`. Each first installs the Debian
# packages it needs (tools/system-setup, the list in tools/system-packages.txt), then .venv.
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
SOURCES := setup.cfg pyproject.toml $(wildcard lvs_dr_checks/*.py lvs_dr_checks/*/*.py)

.PHONY: setup demo test check lint bench clean install deb
# make test TESTS='tests/lab -k y': a part of the suite (the fresh-machine test uses it).
# The groups, by what they need: tests/unit (nothing: no root, no namespace, no daemon),
# tests/lab (namespaces and the kernel), tests/oracles (the real boot tools), tests/daemons.
TESTS ?= tests

setup: $(VENV)/.installed

$(VENV)/.deps: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check '.[test]'
	touch $@

$(VENV)/.installed: $(VENV)/.deps $(SOURCES)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --force-reinstall .
	touch $@

demo:
	tools/system-setup demo
	$(MAKE) --no-print-directory setup
	$(BIN)/python tests/lab.py demo

bench: setup
	$(BIN)/python tests/bench.py

lint: setup
	$(BIN)/ruff check --quiet lvs_dr_checks plugins tests
	$(BIN)/vermin --quiet --no-tips --violations --eval-annotations -t=3.9- lvs_dr_checks plugins
	$(BIN)/mypy --config-file setup.cfg

# Lint and every rule's unit tests, as any user, in well under 90 s; nothing written but .venv.
check: setup lint
	PYTHONDONTWRITEBYTECODE=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/unit

test:
	tools/system-setup test
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest -q -ra --durations=15 $(TESTS)

# A dedicated venv under PREFIX (pysnmp included, for check_vip_arp_cache), its plugins linked
# where PluginContribDir/$USER1$ point.
PREFIX ?= /opt/lvs-dr-checks
PLUGINDIR ?= /usr/lib/nagios/plugins
PLUGINS := check_arp_sysctl check_vip_on_lo check_vip_arp_owner check_lvs_realservers check_vip_arp_cache check_vip_arp_watch

install:
	$(PYTHON) -m venv $(PREFIX)
	$(PREFIX)/bin/pip install --quiet --disable-pip-version-check '.[snmp]'
	mkdir -p $(PLUGINDIR)
	for plugin in $(PLUGINS); do ln -sfn $(PREFIX)/bin/$$plugin $(PLUGINDIR)/$$plugin; done

# The Debian package (debhelper, dh-python), into dist/.
deb:
	tools/build_deb.sh dist

clean:
	rm -rf $(VENV) build dist *.egg-info
