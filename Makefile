# Thin wrapper over CMake.  `make help` lists the targets.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
PYTEST     ?= /usr/bin/python3 -m pytest
PYTEST_ARGS ?=

.PHONY: all deps build asan help run test unit valgrind integration test-asan fuzz bench bench-trace bench-dmz bench-net soak format clean

FUZZ_SECONDS ?= 60

all: build ## Build husk, husk-oci, husk-trace, the probe and the unit tests

deps: ## Install build and test dependencies with apt (Debian 12)
	@bash ci/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHUSK_SANITIZE=ON -DHUSK_STATIC_DEPS=OFF -DHUSK_BUILD_EBPF=OFF

asan: $(ASAN_BUILD)/CMakeCache.txt ## Build with ASan/UBSan (used by the unit tests)
	cmake --build $(ASAN_BUILD) -j $(JOBS)

help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

run: deps build ## Install deps, build, and run a busybox container printing its PID and hostname
	@bash ci/run-demo.sh $(BUILD)

unit: asan ## Run the cmocka unit tests under ASan/UBSan
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)

valgrind: build ## Run the unit tests under valgrind (memory errors and leaks fail)
	bash ci/valgrind-unit.sh $(BUILD)

integration: build ## Run the pytest integration suite (as root)
	HUSK_BUILD=$(abspath $(BUILD)) $(PYTEST) -ra pytest $(PYTEST_ARGS)

test: deps ## Install deps, build, run unit tests (ASan/UBSan, then valgrind) and the integration suite
	$(MAKE) build asan
	$(MAKE) unit
	$(MAKE) valgrind
	$(MAKE) integration

test-asan: asan ## Run the pytest suite against the ASan/UBSan build
	HUSK_BUILD=$(abspath $(ASAN_BUILD)) $(PYTEST) -ra pytest $(PYTEST_ARGS)

fuzz: ## Build the libFuzzer targets with clang and run each for FUZZ_SECONDS (default 60)
	bash fuzz/run.sh $(FUZZ_SECONDS)

bench-trace: build ## Measure husk-trace's overhead on `unshare -fpimun true`
	bash bench/trace-overhead.sh $(abspath $(BUILD))

bench-dmz: build ## Measure what the sealed exec stub (CVE-2019-5736 protection) costs
	bash bench/dmz-cost.sh $(abspath $(BUILD))

bench-net: build ## Measure what networking adds to `husk run`
	bash bench/net-cost.sh $(abspath $(BUILD))

soak: build ## Reliability soak: 1000 sequential / 50 parallel starts, faults, host-state diff (root)
	bash bench/soak.sh $(abspath $(BUILD))

bench: deps build ## Run the start-latency benchmarks (writes bench/results/)
	bash bench/run.sh $(abspath $(BUILD))

format: ## clang-format every C source
	clang-format -i $$(git ls-files '*.c' '*.h')

clean: ## Remove build directories
	rm -rf $(BUILD) $(ASAN_BUILD)
