# mailfort: the public commands are `make demo` and `make test`; the rest are their parts.
# Everything runs as root on a Debian/Ubuntu machine and installs what it needs itself (see README.md).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := $(CURDIR)/.venv
# The independent judges of the mail_dns scenario (checkdmarc, dkimpy), apart from the toolchain: tests/judges/.
JUDGES_VENV := $(CURDIR)/.venv-judges
# The TLS scanner that judges the lab's TLS ports, in a venv of its own (it needs another cryptography).
SSLYZE_VENV := $(CURDIR)/.venv-sslyze
ANSIBLE_BUNDLE := ansible==12.3.0
LAB_SUITES := bookworm trixie
# Debian packages the toolchain and the lab need on this machine.
HOST_PACKAGES := podman runc netavark aardvark-dns iptables debootstrap python3-venv openssl git make

export PATH := $(VENV)/bin:$(PATH)
export CONTAINERS_CONF := $(CURDIR)/lab/containers.conf
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_FORCE_COLOR ?= false
export PY_COLORS ?= 0

STAMPS := $(CURDIR)/.cache/stamps
# Where `make collection` puts the collection's tarball (ignored by git and the linters, left out of the tarball).
DIST := $(CURDIR)/.cache/dist

.PHONY: help setup packages venv judges collections images lint unit collection molecule lab-test test demo lab-up lab-down bench clean

help: ## list the targets
	@awk -F ':.*## ' '/^[a-z-]+:.*## / { printf "  %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

setup: packages venv judges collections images ## install everything mailfort needs (idempotent, seconds when done)

packages: ## Debian packages for podman, the lab images and the toolchain
	@missing=$$(for p in $(HOST_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null | grep -q '^install ok installed$$' || echo "$$p"; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

venv: $(VENV)/.installed ## the pinned Python toolchain in .venv

$(VENV)/.installed: requirements.txt
	@[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --requirement requirements.txt
	@touch $@

judges: $(JUDGES_VENV)/.installed $(SSLYZE_VENV)/.installed ## checkdmarc, dkimpy and the SARIF schema in .venv-judges, sslyze in .venv-sslyze

$(JUDGES_VENV)/.installed: tests/judges/requirements.txt
	@[ -x $(JUDGES_VENV)/bin/python ] || $(PYTHON) -m venv $(JUDGES_VENV)
	$(JUDGES_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --requirement $<
	@touch $@

$(SSLYZE_VENV)/.installed: tests/judges/sslyze-requirements.txt
	@[ -x $(SSLYZE_VENV)/bin/python ] || $(PYTHON) -m venv $(SSLYZE_VENV)
	$(SSLYZE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --requirement $<
	@touch $@

collections: venv ## Ansible collections from requirements.yml into ./collections
	@$(VENV)/bin/python tools/install-collections '$(ANSIBLE_BUNDLE)' requirements.yml collections .cache

images: packages ## lab images for Debian 12 and 13 (rebuilt only when their recipe changes)
	@for suite in $(LAB_SUITES); do lab/build-image "$$suite"; done

lint: venv collections ## yamllint, ansible-lint (production profile), ruff, role docs in sync
	yamllint --strict .
	ansible-lint
	ruff check .
	ruff format --check .
	python tools/docs-sync --check

unit: venv collections judges ## unit tests of the filter plugins and helpers (the SARIF schema check asks a judge)
	python -m pytest tests/unit

collection: venv ## build the collection mailfort.mail (galaxy.yml) into .cache/dist: its tarball, size, file count
	@rm -f $(DIST)/mailfort-mail-*.tar.gz
	ansible-galaxy collection build --force --output-path $(DIST) $(CURDIR)
	@tarball=$$(ls $(DIST)/mailfort-mail-*.tar.gz); \
	echo "collection: $$tarball, $$(stat -c %s "$$tarball") bytes, $$(tar -tzf "$$tarball" | grep -vc '/$$') files"

molecule: setup ## the shared lab (molecule/lab): create, check, converge, every test phase, destroy
	tools/lab-test

# One part or several of the lab run on the lab as it is, e.g. `make lab-test PHASE="converge readonly"`.
PHASE ?=
lab-test: setup ## parts of the lab run: PHASE="create check converge rerun readonly bad_input mutator destructive destroy"
	tools/lab-test $(PHASE)

# Each part in turn, with its wall time: what the next change costs shows in CI's log.
TEST_PARTS := setup lint unit molecule
test: ## everything CI runs: setup, lint, unit, the lab (each part's time printed)
	@times=""; for part in $(TEST_PARTS); do start=$$(date +%s); \
	  $(MAKE) --no-print-directory $$part || { echo "=== make test: $$part failed"; exit 1; }; \
	  took=$$(( $$(date +%s) - start )); times="$$times  $$part $$took s\n"; \
	  echo "=== make test: $$part took $$took s"; done; printf "=== make test: times\n$$times"

# The demo's release: trixie (Debian 13, the default) or bookworm (Debian 12), e.g. `make demo LAB_SUITE=bookworm`.
LAB_SUITE ?= trixie
demo: setup ## build the lab, harden its mail host, audit it, print the result (LAB_SUITE=trixie or bookworm)
	ansible-playbook playbooks/lab.yml -e mailfort_lab_suite=$(LAB_SUITE)
	ansible-playbook -i inventories/lab playbooks/site.yml
	ansible-playbook -i inventories/lab playbooks/demo_report.yml
	ansible-playbook -i inventories/lab playbooks/audit.yml

lab-up: setup ## start the lab containers (LAB_SUITE=trixie or bookworm)
	ansible-playbook playbooks/lab.yml -e mailfort_lab_suite=$(LAB_SUITE)

lab-down: venv collections ## remove the lab containers and network, the demo's and the test lab's
	ansible-playbook playbooks/lab.yml -e mailfort_lab_state=absent
	tools/lab-test destroy
	rm -rf .lab/test

bench: venv collections images ## filter throughput, then playbook passes on lab containers as ratios (~35 min); fails on errors, not times
	bench/run

clean: lab-down ## remove the lab, the toolchain and caches (lab images stay; `podman rmi` removes them)
	rm -rf $(VENV) $(JUDGES_VENV) $(SSLYZE_VENV) .cache collections .lab .pytest_cache .ruff_cache
