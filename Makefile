# Thin wrappers around scripts/install-deps.sh, CMake and CTest; see README.md.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
TSAN_BUILD ?= build-tsan
# seconds each fuzz target runs: a smoke run in `make test`, longer with `make fuzz`
FUZZ_SMOKE_S ?= 5
FUZZ_TIME ?= 300
JOBS       ?= $(shell nproc)
# The ASan pass runs one more test than there are cores: many of its integration tests spend
# much of their time waiting on a server. The release pass runs as many as there are cores: its
# tests decode, and a third one at once only slowed the other two (docs/testing.md).
CTEST_JOBS ?= $(shell echo $$(( $$(nproc) + 1 )))
CMAKE_FLAGS ?=
MAKEFLAGS += --no-print-directory

.PHONY: all deps build build-asan build-fuzz build-tsan test-tsan test test-release test-fast test-asan fuzz bench demo clean format

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)
	@echo "built $(BUILD)/sdra"

# The ASan tree copies the release tree's models (the merged language model, the telephone-band
# acoustic model) rather than making them again, and reads the release tree's generated calls.
$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSDRA_SANITIZE=ON \
	  -DSDRA_MODELS_FROM=$(abspath $(BUILD))/data/asr \
	  -DSDRA_FIXTURES_DIR=$(abspath $(BUILD))/fixtures $(CMAKE_FLAGS) >/dev/null

build-asan: build $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# The threaded unit tests (label 'threads': transcription workers, server workers) under
# ThreadSanitizer.
$(TSAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSDRA_TSAN=ON $(CMAKE_FLAGS) >/dev/null

build-tsan: deps $(TSAN_BUILD)/CMakeCache.txt
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target threads-tests

test-tsan: build-tsan
	cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ctest --output-on-failure -j $(JOBS) -L threads

# libFuzzer targets (tests/fuzz/, docs/security.md): clang, coverage + ASan + UBSan.
$(FUZZ_BUILD)/CMakeCache.txt:
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSDRA_FUZZ=ON $(CMAKE_FLAGS) >/dev/null

build-fuzz: deps $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz-all

# The whole suite, each integration test once, in the tree where it finds the most
# (docs/testing.md, "Which pass runs what"): the unit tests in the release tree and again under
# ASan + UBSan; the integration tests under ASan + UBSan, except the ones labelled slow (the long
# end-to-end runs, the recognition-accuracy checks, whose time is PocketSphinx's; the browser and
# crash-loop tests; the checks of deployment files that run no C code of ours) and the ones
# labelled asan-skip (their C code paths are reached under ASan elsewhere), which run in the
# release tree. `make test-release` runs every test in the release tree.
SAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
test: build build-asan build-fuzz build-tsan
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L '^(unit|slow|asan-skip)$$'
	cd $(ASAN_BUILD) && $(SAN_ENV) ctest --output-on-failure -j $(CTEST_JOBS) -LE 'slow|asan-skip'
	cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ctest --output-on-failure -j $(JOBS) -L threads
	cd $(FUZZ_BUILD) && cmake -DSDRA_FUZZ_SECONDS=$(FUZZ_SMOKE_S) . >/dev/null && ctest --output-on-failure -j $(JOBS) -L fuzz

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j $(CTEST_JOBS)

# Each fuzz target for FUZZ_TIME seconds (crashes land in $(FUZZ_BUILD)/fuzz-crash-*).
fuzz: build-fuzz
	cd $(FUZZ_BUILD) && cmake -DSDRA_FUZZ_SECONDS=$(FUZZ_TIME) . >/dev/null && ctest --output-on-failure -L fuzz -V | grep -E '^[0-9]+: (Done|stat::number_of_executed_units)|Test +#'

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

test-asan: build-asan
	cd $(ASAN_BUILD) && $(SAN_ENV) ctest --output-on-failure -j $(JOBS)

bench: build
	@for b in bench/*.sh; do echo "== $$b"; SDRA=$(BUILD)/sdra SDRA_BUILD=$(BUILD) bash $$b || exit 1; done

demo: build
	@bash scripts/demo.sh $(BUILD)/sdra

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(TSAN_BUILD)

# Installs the binary and share/sdra under $(PREFIX), staged under $(DESTDIR) when set
# (docs/deploy.md); the tree may be moved afterwards.
PREFIX ?= /usr/local
.PHONY: install
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"
