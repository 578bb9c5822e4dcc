# custos build. `make run` and `make test` are the two commands a newcomer
# needs (README.md); everything else here serves them.
#
#   make            build build/custos (gcc, -O2)
#   make run        install what is missing, build, start `custos dev`
#   make test       install, build, run every test (gcc, clang, ASan+UBSan, fuzz)
#   make bench      install, build, run the benchmarks; print figures with limits
#   make unit|e2e   one runner against BUILD (default build/)
#   make fuzz       run every fuzz target for FUZZ_SECONDS (default 10)
#   make format     apply clang-format;  make check-style  verify it + banned calls

CC      ?= gcc
BUILD   ?= build
SAN     ?= 0
OPT     ?= -O2 -g
ROOT    := $(abspath .)
TESTVECTORS ?= $(abspath $(ROOT)/../shared/testvectors)
FUZZ_SECONDS ?= 10
PY      := /usr/bin/python3
E2E_DIR ?= tests/e2e

PKGS    := openssl libmicrohttpd gnutls jansson libcurl sqlite3 expat zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wvla -Wno-unused-parameter
CFLAGS  := -std=c17 $(OPT) $(WARN) -D_GNU_SOURCE -fstack-protector-strong \
           -fno-strict-aliasing -Isrc $(PKG_CFLAGS)
LDLIBS  := $(PKG_LIBS) -lpthread -lm

# Benchmarks only: NULL_CIPHER=1 builds custos with object segments copied
# instead of sealed with AES-256-GCM (core/crypto/seg.c; every other cost
# stays), to measure what encryption costs the store. Such a binary says
# so in `custos version` and in the store's start log, and is built only
# into a *-nullcipher BUILD: `make bench` makes $(BUILD)-nullcipher.
NULL_CIPHER ?= 0
NULL_BUILD  := $(BUILD)-nullcipher
ifeq ($(NULL_CIPHER),1)
ifeq ($(filter %-nullcipher,$(BUILD)),)
$(error NULL_CIPHER=1 builds only into a BUILD named *-nullcipher)
endif
CFLAGS  += -DCU_BENCH_NULL_CIPHER
endif

ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=all -DCU_SANITIZE
LDFLAGS += -fsanitize=address,undefined
else ifeq ($(SAN),fuzz)
CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
           -DCU_SANITIZE -DCU_FUZZING
LDFLAGS += -fsanitize=address,undefined
else
CFLAGS  += -D_FORTIFY_SOURCE=2
endif

# Every .c under src/ but the CLI entry point forms the library that unit
# tests, fuzz targets and benchmarks link against.
LIB_SRC   := $(shell find src -name '*.c' ! -path 'src/cli/main.c' | sort)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ  := $(BUILD)/obj/src/cli/main.o
LIB       := $(BUILD)/libcustos.a
BIN       := $(BUILD)/custos

UNIT_SRC  := $(shell find tests/unit -name 'test_*.c' | sort)
UNIT_BIN  := $(UNIT_SRC:%.c=$(BUILD)/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:%.c=$(BUILD)/%)
FUZZ_SRC  := $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN  := $(FUZZ_SRC:%.c=$(BUILD)/%)
TEST_HELPERS := $(wildcard tests/unit/helpers/*.c)

.PHONY: all deps run demo test unit e2e bench fuzz fuzz-build format check-style \
        clean sanitize clang-build ci-unit-asan ci-e2e-asan tests

all: $(BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(BIN): $(MAIN_OBJ) $(LIB)
	@echo "  LINK    $@"
	@$(CC) $(LDFLAGS) -o $@ $(MAIN_OBJ) $(LIB) $(LDLIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB) $(TEST_HELPERS)
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	@$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(TEST_HELPERS) $(LIB) $(LDLIBS) -lcmocka

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/fuzz/%: fuzz/%.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	@$(CC) $(CFLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

tests: $(BIN) $(UNIT_BIN)

deps:
	@scripts/install-deps.sh

run: deps
	$(MAKE) all
	$(BIN) dev

unit: $(UNIT_BIN)
	@CUSTOS_TESTVECTORS=$(TESTVECTORS) scripts/run-unit.sh $(BUILD) $(UNIT_BIN)

e2e: $(BIN)
	@CUSTOS_BIN=$(abspath $(BIN)) CUSTOS_TESTVECTORS=$(TESTVECTORS) \
	  $(PY) -m pytest -q -p no:cacheprovider $(E2E_DIR) $(PYTEST_ARGS)

bench: deps
	@$(MAKE) -s $(BIN) $(BENCH_BIN)
	@$(MAKE) -s NULL_CIPHER=1 BUILD=$(NULL_BUILD) $(NULL_BUILD)/custos
	@CUSTOS_NULL_CIPHER_BIN=$(abspath $(NULL_BUILD)/custos) \
	  scripts/run-bench.sh $(BUILD)

demo: deps
	$(MAKE) all
	@CUSTOS=$(abspath $(BIN)) scripts/demo.sh

fuzz-build:
	$(MAKE) CC=clang SAN=fuzz BUILD=build-fuzz OPT='-O1 -g' $(FUZZ_SRC:%.c=build-fuzz/%)

fuzz: fuzz-build
	@scripts/run-fuzz.sh build-fuzz $(FUZZ_SECONDS)

check-style:
	@scripts/check-style.sh

format:
	clang-format -i $$(find src tests bench fuzz -name '*.[ch]')

# The whole suite, as CI runs it: gcc build with unit and e2e tests, clang
# build, ASan+UBSan build with unit and e2e tests, fuzz targets briefly.
test: deps
	@scripts/test-all.sh

clean:
	rm -rf build build-clang build-asan build-fuzz build-nullcipher

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)
