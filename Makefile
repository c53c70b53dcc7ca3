# Thin wrappers around scripts/install-deps.sh, CMake and CTest; see README.md.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_FLAGS ?=
MAKEFLAGS += --no-print-directory

.PHONY: all deps build build-asan test test-fast test-asan bench demo clean format

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)
	@echo "built $(BUILD)/sdra"

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSDRA_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null

build-asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# The whole suite: every unit and integration test in the release build, then all of them
# again under ASan + UBSan except the ones labelled slow (the long end-to-end run, whose
# pipeline the server tests also drive under the sanitizers).
SAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
test: build build-asan
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(ASAN_BUILD) && $(SAN_ENV) ctest --output-on-failure -j $(JOBS) -LE slow

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
	rm -rf $(BUILD) $(ASAN_BUILD)
