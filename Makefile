# The two commands of the README: `make run` and `make test`. Everything else is a building block.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
LISTEN ?= 0.0.0.0:8080
CMAKE_FLAGS := -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)
ifneq ($(shell command -v ccache),)
CMAKE_FLAGS += -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
endif

.PHONY: deps build web run demo test package bench fuzz clean

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# The dashboard and demo pages (web/dist), served at /dashboard/ and /demo/.
web:
	@scripts/install-deps.sh web
	@web/build.sh

# The server keeps running without the pages if they cannot be built (no npm registry).
run: build
	@$(MAKE) --no-print-directory web || echo "warning: web pages not built; /dashboard/ and /demo/ will answer 404"
	$(BUILD_DIR)/switchboard serve --listen $(LISTEN) --data-dir ./data

# The same, with the namespaces the demo uses (chat rooms with history and presence, AI streams).
demo: build web
	$(BUILD_DIR)/switchboard serve --listen $(LISTEN) --data-dir ./data --config web/switchboard.demo.toml

test: build
	@scripts/install-deps.sh browser python
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j 2 --timeout 600

# The Debian package, $(BUILD_DIR)/packages/switchboard_<version>_<arch>.deb: the server, its systemd
# unit and config (docs/operations.md). The web pages go in when they can be built.
package: build
	@$(MAKE) --no-print-directory web || echo "warning: web pages not built; the package will have no /dashboard/ or /demo/"
	cd $(BUILD_DIR) && cpack -G DEB

bench:
	@scripts/install-deps.sh bench
	@$(MAKE) --no-print-directory build BUILD_DIR=build-bench BUILD_TYPE=Release
	bench/run.sh $(if $(QUICK),--quick)

# Coverage-guided fuzzing with clang's libFuzzer (ASan + UBSan), FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= ws_frame codec jwt config http_request
fuzz: deps
	@cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DSWITCHBOARD_LIBFUZZER=ON -DSWITCHBOARD_BENCH=OFF >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p build-fuzz/corpus/$$t; \
	  echo "fuzzing $$t for $(FUZZ_SECONDS) s"; \
	  build-fuzz/tests/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    build-fuzz/corpus/$$t tests/fuzz/corpus/$$t || exit 1; \
	done

clean:
	rm -rf $(BUILD_DIR) build-bench build-fuzz
