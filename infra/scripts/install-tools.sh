#!/usr/bin/env bash
# Installs the pinned tools the tests need into <repo>/.cache (git-ignored).
# Idempotent: a tool already present at the pinned version is left alone.
#
#   .cache/dynamodb-local/DynamoDBLocal.jar   AWS DynamoDB Local 1.25.1 (from npm amplify-dynamodb-simulator)
#   .cache/bin/aws-lambda-rie                 AWS Lambda Runtime Interface Emulator
#   .cache/bin/staticcheck                    honnef.co/go/tools staticcheck
#   java                                      from PATH, or Debian's default-jre-headless when root
#   chromium                                  from PATH ($CHROMIUM), or Debian's chromium (+ a CJK font
#                                             for legible screenshots) when root: the page tests
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="$REPO_ROOT/.cache"
BIN="$CACHE/bin"

# DynamoDB Local ships inside this npm package (package/emulator/).
DDB_NPM_PKG="amplify-dynamodb-simulator"
DDB_NPM_VERSION="2.9.30"
DDB_NPM_SHA1="a7ec81c475dc309aa15d047d8d03679c8be49189"
DDB_DIR="$CACHE/dynamodb-local"

RIE_MODULE="github.com/aws/aws-lambda-runtime-interface-emulator"
RIE_VERSION="v0.0.0-20261030222936-bef5c4ba774d"
STATICCHECK_MODULE="honnef.co/go/tools"
STATICCHECK_VERSION="v0.8.2"

log() { echo "install-tools: $*" >&2; }
die() { echo "install-tools: ERROR: $*" >&2; exit 1; }

mkdir -p "$CACHE" "$BIN"
tmp=""
cleanup() { if [[ -n "$tmp" ]]; then rm -rf "$tmp"; fi; }
trap cleanup EXIT

# ---------------------------------------------------------------- java
install_java() {
  if command -v java >/dev/null 2>&1; then
    return
  fi
  if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
    log "java not found; installing default-jre-headless with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends default-jre-headless
    command -v java >/dev/null 2>&1 || die "apt-get installed default-jre-headless but java is still not on PATH"
    return
  fi
  die "java is not on PATH (DynamoDB Local needs Java 11+). Install a JRE, e.g. 'sudo apt-get install default-jre-headless', then re-run $0"
}

# ---------------------------------------------------------------- Chromium
install_chromium() {
  if [[ -n "${CHROMIUM:-}" ]] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || command -v google-chrome >/dev/null 2>&1; then
    return
  fi
  if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
    log "chromium not found; installing Debian's chromium and a CJK font with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends chromium fonts-wqy-microhei
    command -v chromium >/dev/null 2>&1 || die "apt-get installed chromium but it is not on PATH"
    return
  fi
  local why="chromium is not on PATH (the page tests drive it). Install it, e.g. 'sudo apt-get install chromium fonts-wqy-microhei', or set CHROMIUM"
  if [[ "${CI:-}" == "true" ]]; then
    die "$why"
  fi
  log "warning: $why; the page tests will be skipped"
}

# ---------------------------------------------------------------- DynamoDB Local
install_dynamodb_local() {
  local stamp="$DDB_DIR/.installed-from"
  local want="$DDB_NPM_PKG@$DDB_NPM_VERSION"
  if [[ -f "$DDB_DIR/DynamoDBLocal.jar" && -d "$DDB_DIR/DynamoDBLocal_lib" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return
  fi
  command -v npm >/dev/null 2>&1 || die "npm is not on PATH; it is needed to fetch $want (DynamoDB Local)"
  command -v tar >/dev/null 2>&1 || die "tar is not on PATH"
  log "fetching DynamoDB Local from npm package $want"
  tmp="$(mktemp -d "$CACHE/.ddb-tmp.XXXXXX")"
  (cd "$tmp" && npm_config_cache="$tmp/npm-cache" npm pack --silent "$want" >/dev/null)
  local tgz="$tmp/$DDB_NPM_PKG-$DDB_NPM_VERSION.tgz"
  [[ -f "$tgz" ]] || die "npm pack did not produce $tgz"
  local got
  got="$(sha1sum "$tgz" | cut -d' ' -f1)"
  [[ "$got" == "$DDB_NPM_SHA1" ]] || die "checksum mismatch for $tgz: got sha1 $got, want $DDB_NPM_SHA1"
  tar -xzf "$tgz" -C "$tmp" package/emulator
  [[ -f "$tmp/package/emulator/DynamoDBLocal.jar" ]] || die "$want does not contain package/emulator/DynamoDBLocal.jar"
  rm -rf "$DDB_DIR"
  mv "$tmp/package/emulator" "$DDB_DIR"
  echo "$want" >"$stamp"
  rm -rf "$tmp"
  tmp=""
}

# ---------------------------------------------------------------- Go tools
# go_tool_installed BIN MODULE VERSION: true if BIN exists and was built from MODULE@VERSION.
go_tool_installed() {
  local bin="$1" mod="$2" ver="$3"
  [[ -x "$bin" ]] || return 1
  go version -m "$bin" 2>/dev/null | awk -v m="$mod" -v v="$ver" '$1=="mod" && $2==m && $3==v {found=1} END {exit !found}'
}

install_go_tool() {
  local name="$1" pkg="$2" mod="$3" ver="$4"
  if go_tool_installed "$BIN/$name" "$mod" "$ver"; then
    return
  fi
  log "go install $pkg@$ver"
  # Run outside the repo so the project's go.mod does not interfere; CGO off for a static binary.
  (cd "$CACHE" && CGO_ENABLED=0 GOBIN="$BIN" GOFLAGS= GOWORK=off go install "$pkg@$ver")
  go_tool_installed "$BIN/$name" "$mod" "$ver" || die "$BIN/$name was not installed at $mod@$ver"
}

command -v go >/dev/null 2>&1 || die "go is not on PATH"

install_java
install_chromium
install_dynamodb_local
install_go_tool aws-lambda-rie "$RIE_MODULE/cmd/aws-lambda-rie" "$RIE_MODULE" "$RIE_VERSION"
install_go_tool staticcheck "$STATICCHECK_MODULE/cmd/staticcheck" "$STATICCHECK_MODULE" "$STATICCHECK_VERSION"

echo "java:           $(command -v java)"
echo "chromium:       ${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome)}"
echo "dynamodb-local: $DDB_DIR/DynamoDBLocal.jar"
echo "aws-lambda-rie: $BIN/aws-lambda-rie"
echo "staticcheck:    $BIN/staticcheck"
