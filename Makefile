# Makefile for Evident.
#
# Everything a developer or CI needs is installed by the targets below from
# the Go module proxy, at the versions pinned here; nothing comes from the Buf
# Schema Registry (it is not reachable from our machines).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build
MAKEFLAGS += --no-builtin-rules

GO ?= go

# The two commands of the README:
#   make run    start a node on embedded defaults (data in ./evident-data)
#   make demo   a local federation of three foundations with sample evidence
#   make test   everything CI checks: generated code, lints, all tests
#
# Other targets:
#   make build        build every package and the binaries into ./bin
#   make lint         gofmt check, go vet, staticcheck and buf lint
#   make test-race    the tests again under the race detector (short mode)
#   make bench        the ledger's benchmark numbers (several minutes, ~2 GB disk)
#   make bench-quick  the same on smaller logs
#   make bench-node   the node load tool: submissions/s over gRPC, single and batched
#   make bench-ingest attest and submit 1,000 real documents: documents/s, MB/s, beside the disk
#   make bench-check  evident check of a 2,000-component SBOM against 3 nodes of 1,000,000 entries each
#   make bench-web    the web explorer: a 500-item release page in Chromium, API calls at 200/s

STATICCHECK_VERSION := v0.8.2
BIN := $(CURDIR)/bin

.PHONY: build run demo test test-go test-race lint fmt-check vet staticcheck bench bench-quick bench-node bench-ingest bench-check bench-web
build:
	$(GO) build ./...
	GOBIN=$(CURDIR)/bin $(GO) install ./cmd/...

run:
	$(GO) run ./cmd/evidentd

demo:
	$(GO) run ./cmd/evidentdemo

# test is what CI runs (.ci/run): it installs the tools it needs first.
test: check-generated lint test-go test-race

test-go:
	$(GO) test -count=1 ./...

test-race:
	$(GO) test -count=1 -race -short ./ledger/... ./server/... ./witness/...

lint: fmt-check vet staticcheck buf-lint

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck: $(BIN)/staticcheck
	$(BIN)/staticcheck ./...

bench:
	$(GO) run ./cmd/ledgerbench

bench-quick:
	$(GO) run ./cmd/ledgerbench -appends 50000 -proof-size 100000 -open-size 1000000

bench-node:
	$(GO) run ./cmd/evidentbench

bench-ingest:
	$(GO) run ./cmd/ingestbench

bench-check:
	$(GO) run ./cmd/checkbench

bench-web:
	$(GO) run ./cmd/webbench

# ---------------------------------------------------------------------------
# Proto toolchain and code generation (proto/, buf.yaml, buf.gen.yaml).
#
#   make tools            install buf and the protoc plugins into ./bin
#   make generate         regenerate proto/**/*.pb.go and the Connect package, and
#                         evidentd's configuration comments (cmd/evidentd/configdoc.go)
#   make buf-lint         buf lint (STANDARD + COMMENTS, see buf.yaml)
#   make check-generated  regenerate, then fail if any generated file differs from git
#   make buf-breaking     buf breaking against git ref BUF_BREAKING_AGAINST
# ---------------------------------------------------------------------------

# Pinned tool versions. Bumping one reinstalls just that tool.
BUF_VERSION                   := v1.75.0
PROTOC_GEN_GO_VERSION         := v1.36.12
PROTOC_GEN_CONNECT_GO_VERSION := v1.21.1
PROTOC_GEN_GO_GRPC_VERSION    := v1.6.2

# buf/validate/validate.proto comes from this Go module (proto/protovalidate/).
# Keep it in step with buf.build/gen/go/bufbuild/protovalidate in go.mod.
PROTOVALIDATE_MODULE  := github.com/bufbuild/protovalidate
PROTOVALIDATE_VERSION := v1.2.2

BUILD_DIR := $(CURDIR)/.build
# One empty file per tool, named for its version: bin/.versions/buf@v1.75.0.
VERSIONS  := $(BIN)/.versions

BUF                   := $(BIN)/buf
PROTOC_GEN_GO         := $(BIN)/protoc-gen-go
PROTOC_GEN_CONNECT_GO := $(BIN)/protoc-gen-connect-go
PROTOC_GEN_GO_GRPC    := $(BIN)/protoc-gen-go-grpc

PROTO_TOOLS := $(BUF) $(PROTOC_GEN_GO) $(PROTOC_GEN_CONNECT_GO) $(PROTOC_GEN_GO_GRPC)

# go-tool defines how to install one tool binary: $(1) binary name,
# $(2) version, $(3) package path. The binary depends on a stamp file whose
# name carries the version, so the install runs when the binary is missing or
# the pinned version changed, and never otherwise (go install is not even
# started). `touch` is needed because go install leaves an up-to-date binary's
# mtime alone.
define go-tool
$(BIN)/$(1): $(VERSIONS)/$(1)@$(2)
	GOBIN=$(BIN) $(GO) install $(3)@$(2)
	@touch $$@

$(VERSIONS)/$(1)@$(2):
	@mkdir -p $$(@D)
	@rm -f $$(@D)/$(1)@*
	@touch $$@
endef

$(eval $(call go-tool,buf,$(BUF_VERSION),github.com/bufbuild/buf/cmd/buf))
$(eval $(call go-tool,protoc-gen-go,$(PROTOC_GEN_GO_VERSION),google.golang.org/protobuf/cmd/protoc-gen-go))
$(eval $(call go-tool,protoc-gen-connect-go,$(PROTOC_GEN_CONNECT_GO_VERSION),connectrpc.com/connect/cmd/protoc-gen-connect-go))
$(eval $(call go-tool,protoc-gen-go-grpc,$(PROTOC_GEN_GO_GRPC_VERSION),google.golang.org/grpc/cmd/protoc-gen-go-grpc))
$(eval $(call go-tool,staticcheck,$(STATICCHECK_VERSION),honnef.co/go/tools/cmd/staticcheck))

.PHONY: tools
tools: $(PROTO_TOOLS)

# protovalidate-protos copies buf/validate/*.proto out of the module cache into
# .build/protovalidate, the second module of the buf workspace (buf.yaml).
# `go mod download` runs outside this module so that it cannot touch go.mod or
# go.sum; the copy is made writable because the module cache is read-only.
PROTOVALIDATE_DIR := $(BUILD_DIR)/protovalidate

.PHONY: protovalidate-protos
protovalidate-protos: $(PROTOVALIDATE_DIR)/.version-$(PROTOVALIDATE_VERSION)

$(PROTOVALIDATE_DIR)/.version-$(PROTOVALIDATE_VERSION):
	@src=$$(cd "$${TMPDIR:-/tmp}" && GO111MODULE=on $(GO) mod download -json $(PROTOVALIDATE_MODULE)@$(PROTOVALIDATE_VERSION) \
		| sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$$/\1/p'); \
	if [ -z "$$src" ] || [ ! -f "$$src/proto/protovalidate/buf/validate/validate.proto" ]; then \
		echo "protovalidate-protos: couldn't find buf/validate/validate.proto in $(PROTOVALIDATE_MODULE)@$(PROTOVALIDATE_VERSION) (dir: '$$src')" >&2; \
		exit 1; \
	fi; \
	rm -rf $(PROTOVALIDATE_DIR); \
	mkdir -p $(PROTOVALIDATE_DIR); \
	cp -R "$$src/proto/protovalidate/." $(PROTOVALIDATE_DIR)/; \
	chmod -R u+w $(PROTOVALIDATE_DIR); \
	touch $@; \
	echo "protovalidate-protos: copied $(PROTOVALIDATE_MODULE)@$(PROTOVALIDATE_VERSION) protos to $(PROTOVALIDATE_DIR)"

# generate deletes the previous output first so that code generated from a
# removed .proto file cannot linger (buf.gen.yaml's `clean` would delete the
# whole proto/ output directory, sources included).
.PHONY: generate
generate: $(PROTO_TOOLS) protovalidate-protos
	find proto -type f \( -name '*.pb.go' -o -name '*.connect.go' \) -delete
	find proto -type d -empty -delete
	$(BUF) generate
	$(GO) generate ./cmd/evidentd

.PHONY: buf-lint
buf-lint: $(BUF) protovalidate-protos
	$(BUF) lint

# check-generated is what CI runs: the committed generated code must be what
# `make generate` produces from the committed .proto files and config.go.
GENERATED := proto cmd/evidentd/configdoc.go

.PHONY: check-generated
check-generated: generate
	@changes=$$(git status --porcelain --untracked-files=all -- $(GENERATED)); \
	if [ -n "$$changes" ]; then \
		echo "check-generated: generated code is stale or uncommitted:" >&2; \
		echo "$$changes" >&2; \
		git --no-pager diff --stat -- $(GENERATED) >&2 || true; \
		echo "check-generated: run 'make generate' and commit the result." >&2; \
		exit 1; \
	fi; \
	echo "check-generated: $(GENERATED) up to date"

# buf-breaking checks proto/ against the git ref BUF_BREAKING_AGAINST with the
# rules in buf.yaml (WIRE_JSON). buf cannot take the ref directly (`.git#ref=`)
# because buf/validate is not in git, so the ref's files plus our copy of
# buf/validate are built into an image first. A ref without proto/ passes.
BUF_BREAKING_AGAINST ?= HEAD

.PHONY: buf-breaking
buf-breaking: $(BUF) protovalidate-protos
	@against=$$(mktemp -d); trap 'rm -rf "$$against"' EXIT; \
	if ! git cat-file -e "$(BUF_BREAKING_AGAINST):proto" 2>/dev/null; then \
		echo "buf-breaking: $(BUF_BREAKING_AGAINST) has no proto/; nothing to compare"; \
		exit 0; \
	fi; \
	git archive "$(BUF_BREAKING_AGAINST)" proto buf.yaml | tar -x -C "$$against"; \
	mkdir -p "$$against/.build"; \
	cp -R $(PROTOVALIDATE_DIR) "$$against/.build/"; \
	(cd "$$against" && $(BUF) build proto -o image.binpb); \
	$(BUF) breaking proto --against "$$against/image.binpb"; \
	echo "buf-breaking: no breaking changes against $(BUF_BREAKING_AGAINST)"

.PHONY: clean-tools
clean-tools:
	rm -rf $(BIN) $(BUILD_DIR)

# ---------------------------------------------------------------------------
# End of the proto section.
# ---------------------------------------------------------------------------
