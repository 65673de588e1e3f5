# fargo: `make run` starts fargo, `make test` passes the tests. Both install
# what they need first (idempotently): Debian packages and Go modules.

GO      ?= go
BIN     := bin/fargo
PKGS    := ./...
# Debian packages fargo and its tests need, as "command:package" pairs:
# runc runs the containers; tini-static is the init of containers with
# initProcessEnabled; e2fsprogs' mkfs.ext4 formats each task's ephemeral
# storage (a loop-mounted filesystem of the task's size); Debian's AWS
# CLI v2 (/usr/bin/aws, which has `aws logs tail`) and skopeo are real
# clients the tests drive.
APT_DEPS := /usr/bin/aws:awscli skopeo:skopeo runc:runc tini-static:tini mkfs.ext4:e2fsprogs
# Debian packages only `make bench` needs: docker-registry (CNCF
# distribution) is the registry benchmark's peer; haproxy, the load
# balancer benchmark's (both system services are disabled again right
# after the install: the bench runs its own instances).
# dnsperf drives the DNS benchmark (BENCH=dns) and NSD is its peer; NSD's
# system service, which would take port 53 on every address, is disabled
# the same way.
BENCH_APT_DEPS := docker-registry:docker-registry haproxy:haproxy dnsperf:dnsperf nsd:nsd

.PHONY: all build run test bench deps generate vet fmt clean fuzz

all: build

# deps installs what the build and the tests need, once.
deps:
	@missing=""; \
	for pair in $(APT_DEPS); do \
		cmd=$${pair%%:*}; pkg=$${pair##*:}; \
		command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
		for svc in docker-registry haproxy nsd; do case "$$missing" in *$$svc*) \
			command -v systemctl >/dev/null 2>&1 && $$SUDO systemctl disable --now $$svc >/dev/null 2>&1 || true;; \
		esac; done; \
	fi
	@$(GO) mod download

# fargo-monitor (the per-container monitor, a third of the memory of
# `fargo runtime-monitor`) goes beside fargo, where fargo looks for it.
build:
	@mkdir -p bin
	$(GO) build -trimpath -o $(BIN) ./cmd/fargo
	$(GO) build -trimpath -o bin/fargo-monitor ./internal/runtime/cmd/fargo-monitor

# run starts fargo on 127.0.0.1:4566 with its data in ~/.local/share/fargo.
# Extra flags: make run ARGS="--dev".
run: deps build
	./$(BIN) server $(ARGS)

generate:
	$(GO) generate ./internal/api/...

vet:
	$(GO) vet $(PKGS)

test: deps vet build
	$(GO) test -count=1 -timeout 75m $(PKGS)

# fuzz runs each fuzz target for FUZZTIME (the seed corpora run in `make test`).
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzJSONRequest$$' -fuzztime $(FUZZTIME) ./internal/api/
	$(GO) test -run '^$$' -fuzz '^FuzzQueryRequest$$' -fuzztime $(FUZZTIME) ./internal/api/
	$(GO) test -run '^$$' -fuzz '^FuzzParseAuthorization$$' -fuzztime $(FUZZTIME) ./internal/api/sigv4/
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) ./internal/api/sigv4/
	$(GO) test -run '^$$' -fuzz '^FuzzValidRegion$$' -fuzztime $(FUZZTIME) ./internal/tenant/
	$(GO) test -run '^$$' -fuzz '^FuzzVerifyToken$$' -fuzztime $(FUZZTIME) ./internal/auth/
	$(GO) test -run '^$$' -fuzz '^FuzzPrepareTaskDefinition$$' -fuzztime $(FUZZTIME) ./internal/control/
	$(GO) test -run '^$$' -fuzz '^FuzzCompile$$' -fuzztime $(FUZZTIME) ./internal/logs/
	$(GO) test -run '^$$' -fuzz '^FuzzParsePos$$' -fuzztime $(FUZZTIME) ./internal/logs/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./internal/policy/
	$(GO) test -run '^$$' -fuzz '^FuzzParseRoute$$' -fuzztime $(FUZZTIME) ./internal/registry/distribution/
	$(GO) test -run '^$$' -fuzz '^FuzzParseManifest$$' -fuzztime $(FUZZTIME) ./internal/registry/
	$(GO) test -run '^$$' -fuzz '^FuzzLifecyclePolicy$$' -fuzztime $(FUZZTIME) ./internal/registry/
	$(GO) test -run '^$$' -fuzz '^FuzzContentRange$$' -fuzztime $(FUZZTIME) ./internal/registry/distribution/

# bench measures fargo beside a named peer in the same run (see test/bench).
bench: APT_DEPS += $(BENCH_APT_DEPS)
bench: deps build
	$(GO) run ./test/bench

fmt:
	gofmt -w cmd internal test

clean:
	rm -rf bin
