# heavylift: `make demo` and `make test` set everything up on a fresh Debian
# bookworm machine and run. Other targets are steps of those two.

BUILD_DIR   ?= build/release
ASAN_DIR    ?= build/asan
FUZZ_DIR    ?= build/fuzz
JOBS        ?= $(shell nproc)

.PHONY: all deps build build-server build-sdk test demo demo-cli bench soak clean

all: build

deps:
	@scripts/install-deps.sh

build: deps build-server build-sdk

build-server:
	@cmake -S server -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Installs the SDK's npm packages first when they are missing, as in a fresh clone.
build-sdk:
	@[ -d sdk/node/node_modules ] || (cd sdk/node && npm ci --no-audit --no-fund --loglevel=error)
	@cd sdk/node && npm run --silent build

test: build
	@scripts/test.sh

# The reference MERN app on FerretDB, Redis and heavylift, seeded with photos;
# DEMO_EXIT_AFTER_SEED=1 seeds, checks and exits instead of serving until Ctrl-C.
demo: build
	@scripts/demo.sh

# The command-line demo: thumbnails and a password hash through the SDK.
demo-cli: build
	@scripts/demo-cli.sh

bench: build
	@scripts/install-deps.sh bench examples/custom-task
	@cd bench && npm run --silent bench

# 30 minutes of mixed load against one daemon; SOAK_MINUTES shortens it.
# Writes out/soak/soak.json and the plot out/soak/soak.svg. Not part of test.
soak: build
	@scripts/install-deps.sh bench examples/custom-task
	@cd bench && node soak/soak.mjs

clean:
	rm -rf build out sdk/node/dist sdk/node/src/gen
