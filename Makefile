# Rounds — two commands on a fresh machine: `make run` and `make test`.

# PocketBase v0.40 needs Go 1.27; with GOTOOLCHAIN=auto the go command
# fetches it through the module proxy when the installed Go is older.
export GOTOOLCHAIN := auto

GO             ?= go
DATA           ?= pb_data
HTTP           ?= 127.0.0.1:8090
ADMIN_EMAIL    ?= admin@rounds.test
ADMIN_PASSWORD ?= rounds-demo-admin

.PHONY: all build run test fuzz bench bench-app clean app

all: build

build:
	$(GO) build -o rounds .

## run: build, migrate, create the demo superuser when there is none, seed demo data when the database is empty, serve
run: build
	./rounds migrate up --dir $(DATA)
	./rounds seed --if-empty --superuser $(ADMIN_EMAIL) --superuser-password $(ADMIN_PASSWORD) --dir $(DATA)
	@echo
	@echo "  Dashboard:  http://$(HTTP)/_/"
	@echo "  Managers:   http://$(HTTP)/manager/"
	@echo "  Reps' app:  http://$(HTTP)/app/"
	@echo "  Superuser:  $(ADMIN_EMAIL) / $(ADMIN_PASSWORD)"
	@echo "  Demo rep:   rep1@rounds.test / rounds-demo   (manager: manager1@rounds.test / rounds-demo)"
	@echo
	ROUNDS_PUBLIC_URL=$${ROUNDS_PUBLIC_URL:-http://$(HTTP)} ./rounds serve --http $(HTTP) --dir $(DATA)

## test: everything CI checks
test: e2e/watermelon/node_modules e2e/dashboard/node_modules app/node_modules
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	$(MAKE) fuzz FUZZTIME=5s

## fuzz: each fuzz target for FUZZTIME (seed corpora in testdata/fuzz and in the targets)
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeChanges$$' -fuzztime $(FUZZTIME) ./sync
	$(GO) test -run '^$$' -fuzz '^FuzzPush$$' -fuzztime $(FUZZTIME) ./sync
	$(GO) test -run '^$$' -fuzz '^FuzzResolve$$' -fuzztime $(FUZZTIME) ./sync
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) ./care

# WatermelonDB, for the real-client sync test (versions pinned by package-lock.json)
e2e/watermelon/node_modules: e2e/watermelon/package.json e2e/watermelon/package-lock.json
	cd e2e/watermelon && npm ci --no-audit --no-fund
	@touch $@

# playwright-core, to drive Debian's Chromium against the dashboard
e2e/dashboard/node_modules: e2e/dashboard/package.json e2e/dashboard/package-lock.json
	cd e2e/dashboard && npm ci --no-audit --no-fund
	@touch $@

# esbuild, WatermelonDB and LokiJS, to build the reps' app (versions pinned by package-lock.json)
app/node_modules: app/package.json app/package-lock.json
	cd app && npm ci --no-audit --no-fund
	@touch $@

## app: rebuild the reps' app (app/src and README's sync client) into app/dist, which the binary embeds
app: app/node_modules
	cd app && node build.mjs

## bench: the benchmarks whose figures are kept in BENCHMARKS.md
bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...

## bench-app: the reps' app with a large territory in Chromium (one rep, 2,000 customers, about 58,000 records)
BENCH_APP_DIR  ?= /tmp/rounds-bench-app
BENCH_APP_HTTP ?= 127.0.0.1:8097
bench-app: build e2e/dashboard/node_modules
	rm -rf $(BENCH_APP_DIR)
	./rounds migrate up --dir $(BENCH_APP_DIR) > /dev/null
	./rounds seed --dir $(BENCH_APP_DIR) --reps 1 --customers 2000 --orders 3
	./rounds serve --http $(BENCH_APP_HTTP) --dir $(BENCH_APP_DIR) > $(BENCH_APP_DIR)/serve.log 2>&1 & echo $$! > $(BENCH_APP_DIR)/serve.pid; \
	sleep 2; status=0; for i in 1 2 3; do \
	  ROUNDS_URL=http://$(BENCH_APP_HTTP) REP_EMAIL=rep1@rounds.test PASSWORD=rounds-demo node e2e/dashboard/app-bench.js || status=1; \
	done; kill $$(cat $(BENCH_APP_DIR)/serve.pid); exit $$status

clean:
	rm -rf rounds $(DATA)
