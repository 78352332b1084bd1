# authd: every target a newcomer needs. `make run` serves on :8000 with the
# embedded SQLite default; `make test` is what CI runs.

GO      ?= go
BIN     := bin
GOFLAGS := -trimpath
PKGS    := ./...

.PHONY: all build run test test-short e2e interop demo cluster fuzz load-quick load bench lint fmt vet clean

all: build

## build: static binaries bin/authd, bin/fakeintra and bin/authd-demo (no cgo)
build:
	CGO_ENABLED=0 $(GO) build $(GOFLAGS) -o $(BIN)/authd ./cmd/authd
	CGO_ENABLED=0 $(GO) build $(GOFLAGS) -o $(BIN)/fakeintra ./cmd/fakeintra
	CGO_ENABLED=0 $(GO) build $(GOFLAGS) -o $(BIN)/authd-demo ./cmd/authd-demo

## run: serve on :8000 with authd.db in the current folder, no configuration needed
run:
	CGO_ENABLED=0 $(GO) build $(GOFLAGS) -o $(BIN)/authd ./cmd/authd
	./$(BIN)/authd serve

## test: vet, then every package's tests with the race detector
test: vet
	$(GO) test -race -count=1 $(PKGS)

## test-short: the unit tests without the race detector, quicker while editing
test-short:
	$(GO) test -count=1 $(PKGS)

## e2e: whole-system tests against real processes, headless Chromium and three
##      replicas on PostgreSQL and Redis; logs and screenshots in e2e/out/
e2e: build
	AUTHD_E2E_BIN=$(CURDIR)/$(BIN) $(GO) test -tags e2e -count=1 -timeout 10m -v ./e2e/...

## interop: authd's access tokens verified by golang-jwt v5 and keyfunc (a JWKS client),
##          in a module of its own so that authd does not depend on them
interop:
	cd examples/verifier/interop && $(GO) test -count=1 ./...

## demo: authd, the fake 42 provider and a demo page; open http://localhost:8080/
DEMO_CALLBACK := http://localhost:8080/oauth2/intra/callback/
demo: build
	@echo "demo: open http://localhost:8080/ (Ctrl-C stops all three)"
	@./$(BIN)/fakeintra -redirect-uri $(DEMO_CALLBACK) >/dev/null & fake=$$!; \
	AUTHD_ADDR=127.0.0.1:8000 AUTHD_DB=demo.db AUTHD_COOKIE_SECURE=false \
	AUTHD_INTRA_BASE_URL=http://127.0.0.1:9042 \
	AUTHD_INTRA_CLIENT_ID=u-s4t2ud-5d1f0e7c3b2a49687f6e5d4c3b2a19080f1e2d3c4b5a69788796a5b4c3d2e1f0 \
	AUTHD_INTRA_CLIENT_SECRET=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 \
	AUTHD_INTRA_REDIRECT_URI=$(DEMO_CALLBACK) \
	./$(BIN)/authd serve & authd=$$!; \
	trap 'kill $$fake $$authd 2>/dev/null; wait' EXIT INT TERM; \
	./$(BIN)/authd-demo -addr 127.0.0.1:8080 -authd http://127.0.0.1:8000

## cluster: three replicas sharing PostgreSQL and Redis behave as one
cluster:
	$(GO) test -tags e2e -count=1 -v ./e2e/cluster/

## load: vegeta scenarios at the default rates (every throttle scope, keying, concurrency,
##       cookie transitions), then throughput, hashing and memory, the read path on SQLite,
##       PostgreSQL ($AUTHD_TEST_POSTGRES_URL or the local one, a database of its own) and
##       three replicas; report in loadtest/out/full/ (LOADFLAGS=-only=perf: that part alone)
load: build
	$(GO) run ./loadtest $(LOADFLAGS) -authd $(BIN)/authd -fakeintra $(BIN)/fakeintra

## load-quick: the same throttle scenarios at N/second rates, in seconds (CI runs it);
##             LOADFLAGS=-metrics-addr=127.0.0.1:9090 serves the throttled authd's /metrics
LOADFLAGS ?=
load-quick: build
	$(GO) run ./loadtest -quick $(LOADFLAGS) -authd $(BIN)/authd -fakeintra $(BIN)/fakeintra

## bench: the Go benchmarks of the hot paths, repeated for benchstat
##        (go run golang.org/x/perf/cmd/benchstat@latest old.txt new.txt)
BENCH_COUNT ?= 6
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCH_COUNT) \
		./internal/token/ ./internal/throttle/... ./internal/password/ ./internal/httpapi/ ./internal/store/...

# Every fuzz target, as package:target. Each also runs its seed corpus
# (testdata/fuzz/<target>/ of its package) in `make test`.
FUZZ_TARGETS := \
	internal/httpapi:FuzzLoginRequest \
	internal/httpapi:FuzzRegisterRequest \
	internal/httpapi:FuzzCredentials \
	internal/httpapi:FuzzForwardedFor \
	internal/throttle:FuzzParseRate \
	internal/throttle:FuzzParseProxies \
	internal/throttle:FuzzClientKey \
	internal/config:FuzzSetting \
	internal/config:FuzzSettingFile \
	cmd/authd:FuzzRedactDSN \
	internal/intra:FuzzIdentify \
	internal/token:FuzzVerify \
	internal/password:FuzzVerify \
	cmd/authd-demo/internal/qr:FuzzEncode
FUZZTIME ?= 20s
FUZZFLAGS ?=

## fuzz: run every fuzz target for FUZZTIME (20s) each; a failing input is written to its package's testdata/fuzz/
fuzz:
	@log=$$(mktemp); trap 'rm -f $$log' EXIT; \
	for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; dir=$$pkg/testdata/fuzz/$$fn; \
		before=$$(ls $$dir 2>/dev/null | wc -l); \
		echo "== $$pkg $$fn"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $(FUZZFLAGS) ./$$pkg >$$log 2>&1; rc=$$?; \
		cat $$log; \
		[ $$rc -eq 0 ] && continue; \
		if [ "$$(ls $$dir 2>/dev/null | wc -l)" -eq "$$before" ] && grep -q '^    context deadline exceeded$$' $$log; then \
			echo "$$fn: stopped by the fuzztime race of go.dev/issue/75804, no failing input"; continue; \
		fi; \
		echo "$$fn failed; a failing input, if any, is in $$dir"; exit 1; \
	done

# staticcheck at a pinned version, run from its own module: it stays out of
# authd's go.mod, and the module cache keeps it after the first download.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## lint: formatting, vet and staticcheck (with and without the e2e tag); any finding fails
lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(STATICCHECK) $(PKGS)
	$(STATICCHECK) -tags e2e ./e2e/...

vet:
	$(GO) vet $(PKGS)
	$(GO) vet -tags e2e ./e2e/...

fmt:
	gofmt -w .

clean:
	rm -rf $(BIN)
