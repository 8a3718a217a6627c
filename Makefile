# The two commands of the README: `make run` and `make test`. Everything else is a building block.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
LISTEN ?= 0.0.0.0:8080
CMAKE_FLAGS := -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)
ifneq ($(shell command -v ccache),)
CMAKE_FLAGS += -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
endif

.PHONY: deps build run test bench clean

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/switchboard serve --listen $(LISTEN) --data-dir ./data

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j 2 --timeout 600

bench:
	@scripts/install-deps.sh bench
	@$(MAKE) --no-print-directory build BUILD_DIR=build-bench BUILD_TYPE=Release
	bench/run.sh $(if $(QUICK),--quick)

clean:
	rm -rf $(BUILD_DIR) build-bench
