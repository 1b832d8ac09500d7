# gridcode: `make run` starts the whole system locally; `make test` runs every test.
SHELL := /bin/bash
GO ?= go
FUNCTIONS := intake reports directory fanout digest groups health refresh refreshplan refreshwork registry registryimport worklist reconcilework stats web
STATICCHECK := $(shell [ -x .cache/bin/staticcheck ] && echo .cache/bin/staticcheck || echo "$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2")
LAMBDA_BUILD := GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags="-s -w"

.PHONY: run test fuzz lint build cli bench tools clean build-IntakeFunction build-ReportsFunction build-DirectoryFunction build-FanoutFunction build-DigestFunction \
	build-GroupsFunction build-HealthFunction build-RefreshFunction build-RefreshPlanFunction build-RefreshWorkFunction \
	build-RegistryFunction build-RegistryImportFunction build-WorklistFunction build-ReconcileWorkFunction build-StatsFunction build-WebFunction

run:
	$(GO) run ./infra/cmd/gridcode serve

# CI=true makes missing DynamoDB Local / emulator a failure instead of a skip.
test: lint
	$(GO) test -count=1 ./...
	GO=$(GO) FUZZTIME=$${FUZZTIME:-2s} infra/scripts/fuzz.sh

# Every fuzz target for FUZZTIME (default 2s here, 3s in the script) each, one at a time.
fuzz:
	GO=$(GO) FUZZTIME=$${FUZZTIME:-2s} infra/scripts/fuzz.sh

lint:
	@unformatted=$$(gofmt -l $$(find . -name '*.go' -not -path './.cache/*')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

tools:
	infra/scripts/install-tools.sh

cli:
	$(GO) build -o bin/gridcode ./infra/cmd/gridcode

# One zip per function: dist/<name>.zip holding a linux/arm64 `bootstrap`.
build: $(addprefix dist/,$(addsuffix .zip,$(FUNCTIONS)))

dist/%.zip: FORCE
	@mkdir -p .build/$* dist
	$(LAMBDA_BUILD) -o .build/$*/bootstrap ./functions/$*
	@rm -f $@ && cd .build/$* && zip -q -X ../../$@ bootstrap
	@echo "built $@"

.PHONY: FORCE
FORCE:

# `sam build` with BuildMethod: makefile calls build-<LogicalId> with ARTIFACTS_DIR set.
build-IntakeFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/intake
build-ReportsFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/reports
build-DirectoryFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/directory
build-FanoutFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/fanout
build-DigestFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/digest
build-GroupsFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/groups
build-HealthFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/health
build-RefreshFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/refresh
build-RefreshPlanFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/refreshplan
build-RefreshWorkFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/refreshwork
build-RegistryFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/registry
build-RegistryImportFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/registryimport
build-WorklistFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/worklist
build-ReconcileWorkFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/reconcilework
build-StatsFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/stats
build-WebFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/web

bench: tools
	$(GO) run ./infra/cmd/bench

clean:
	rm -rf .build dist bin
