# authd: every target a newcomer needs. `make run` serves on :8000 with the
# embedded SQLite default; `make test` is what CI runs.

GO      ?= go
BIN     := bin
GOFLAGS := -trimpath
PKGS    := ./...

.PHONY: all build run test test-short e2e cluster load bench lint fmt vet clean

all: build

## build: static binaries bin/authd and bin/fakeintra (no cgo)
build:
	CGO_ENABLED=0 $(GO) build $(GOFLAGS) -o $(BIN)/authd ./cmd/authd
	CGO_ENABLED=0 $(GO) build $(GOFLAGS) -o $(BIN)/fakeintra ./cmd/fakeintra

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

## e2e: whole-system tests against real processes (authd, fakeintra) and a headless browser
e2e: build
	$(GO) test -tags e2e -count=1 -v ./e2e/...

## cluster: three replicas sharing PostgreSQL and Redis behave as one
cluster:
	$(GO) test -tags e2e -count=1 -v ./e2e/cluster/

## load: vegeta scenarios that verify every throttle rate and cookie transition
load: build
	$(GO) run ./loadtest

## bench: the Go benchmarks of the hot paths, repeated for benchstat
##        (go run golang.org/x/perf/cmd/benchstat@latest old.txt new.txt)
BENCH_COUNT ?= 6
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCH_COUNT) \
		./internal/token/ ./internal/throttle/... ./internal/password/ ./internal/httpapi/ ./internal/store/...

## lint: formatting and vet
lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w .

clean:
	rm -rf $(BIN)
