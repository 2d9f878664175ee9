# Shoal — build, run, test.
GO        ?= go
BIN       := bin/shoal
CORPUS    ?= ../shared/corpus/gcide.jsonl.gz
PKGS      := ./...

.PHONY: all build run test test-short bench image compose-secrets compose-test fuzz vet clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/shoal

## run: build and start everything in one process with the sample corpus
run: build
	$(BIN) dev

## test: the full test suite (race detector on)
test: build
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

## bench: shoal against plain Bleve on the sample corpus (see shoal bench --help);
## extra flags go in BENCH_ARGS, e.g.
##   make bench BENCH_ARGS="--corpus $(CORPUS) --docs 40000 --queries /tmp/q.txt"
## with many distinct queries in /tmp/q.txt (the timed phases do not repeat them), e.g. from
##   ../shared/corpus/scripts/make_queries.py $(CORPUS) /tmp/q.txt /tmp/k.tsv 11 100000
BENCH_ARGS ?=
bench: build
	$(BIN) bench --json bench.json $(BENCH_ARGS)

fuzz:
	$(GO) test ./indexer -run '^$$' -fuzz FuzzParseNDJSON -fuzztime 30s
	$(GO) test ./web -run '^$$' -fuzz FuzzParseSearchBody -fuzztime 30s
	$(GO) test ./web -run '^$$' -fuzz FuzzDocID -fuzztime 30s
	$(GO) test ./corpus -run '^$$' -fuzz FuzzReader -fuzztime 30s
	$(GO) test ./protocol -run '^$$' -fuzz FuzzSearchReply -fuzztime 30s
	$(GO) test ./protocol -run '^$$' -fuzz FuzzNodeSearchRequest -fuzztime 30s
	$(GO) test ./protocol -run '^$$' -fuzz FuzzDecodeTermTable -fuzztime 30s
	$(GO) test ./protocol -run '^$$' -fuzz FuzzDecodeGlobalStats -fuzztime 30s
	$(GO) test ./rewrite -run '^$$' -fuzz FuzzQueryString -fuzztime 30s
	$(GO) test ./token -run '^$$' -fuzz FuzzParse -fuzztime 30s

vet:
	$(GO) vet $(PKGS)

## image: a FROM-scratch container image of the static binary
image:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o deploy/shoal ./cmd/shoal
	docker build -t shoal:dev -f deploy/Dockerfile deploy

## compose-secrets: the NATS accounts and credentials (one identity per searcher)
## and the TLS CA and certificate that compose.yaml mounts, in deploy/secrets
## (git-ignored; made once, kept on later runs)
COMPOSE_SECRETS   := deploy/secrets
COMPOSE_SEARCHERS := searcher1 searcher2 searcher3 searcher4
COMPOSE_HOSTS     := broker1,broker2,broker3,coordinator,localhost,127.0.0.1
compose-secrets: build
	@for n in $(COMPOSE_SEARCHERS); do test -f $(COMPOSE_SECRETS)/auth/searcher-$$n.creds || \
		$(BIN) creds --auth-dir $(COMPOSE_SECRETS)/auth $$n || exit 1; done
	@test -f $(COMPOSE_SECRETS)/tls/server.pem || $(BIN) certs --dir $(COMPOSE_SECRETS)/tls --hosts $(COMPOSE_HOSTS)

## compose-test: compose.yaml on Docker, with containers killed and cut off (deploy/compose-test.sh)
compose-test:
	bash deploy/compose-test.sh

clean:
	rm -rf bin shoal-data deploy/shoal
