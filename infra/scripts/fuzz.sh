#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a short time, one at a time
# (the fuzzer takes one target per invocation), on its committed corpus
# (f.Add seeds and testdata/fuzz/<Name>/) and what it finds within the time.
# Prints each target's executions and a total line, and fails if any target
# fails; a failing input is written to the package's testdata/fuzz/<Name>/,
# where it stays as part of the corpus once the bug is fixed.
#
#   FUZZTIME=3s            time per target (go test -fuzztime)
#   FUZZMINIMIZETIME=1s    cap on minimising each new input, which otherwise
#                          stalls a short run (go test -fuzzminimizetime)
#   FUZZ=regexp            run only the targets whose name matches
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-3s}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-1s}
FUZZ=${FUZZ:-.}

# The packages whose tests declare a fuzz target; `go test -list` then names
# the targets as the toolchain sees them (build tags and all).
mapfile -t dirs < <(grep -rl --include='*_test.go' -E '^func Fuzz[A-Z0-9_]' . --exclude-dir=.cache --exclude-dir=node_modules |
	xargs -r -n1 dirname | sort -u)

log=$(mktemp)
trap 'rm -f "$log"' EXIT
targets=0 total=0 failed=()
start=$SECONDS
for dir in "${dirs[@]}"; do
	pkg="./${dir#./}"
	if ! list=$($GO test -list '^Fuzz' "$pkg" 2>&1); then
		failed+=("$pkg (go test -list)")
		printf 'fuzz: %s: listing the targets failed\n' "$pkg"
		sed 's/^/    /' <<<"$list"
		continue
	fi
	mapfile -t names < <(grep -E '^Fuzz' <<<"$list" | grep -E -- "$FUZZ" || true)
	for name in "${names[@]}"; do
		t0=$SECONDS
		rc=0
		$GO test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" -fuzzminimizetime="$FUZZMINIMIZETIME" "$pkg" >"$log" 2>&1 || rc=$?
		# The execs of the last status line: the fuzzer's own count.
		execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -n1 | grep -oE '[0-9]+' || true)
		execs=${execs:-0}
		note=""
		if [ "$rc" -ne 0 ] && grep -qxE '[[:space:]]+context deadline exceeded' "$log" &&
			! grep -qE 'Failing input written|failure while testing seed corpus|--- FAIL: Fuzz[^ ]*/|^panic:' "$log"; then
			# go1.26's coordinator can report its own -fuzztime deadline as a
			# failure (go.dev/issue/75804, fixed in go1.27): the target ran
			# its time and no input failed.
			rc=0 note=" (fuzztime deadline race of go1.26, go.dev/issue/75804: no failing input)"
		fi
		targets=$((targets + 1))
		total=$((total + execs))
		if [ "$rc" -ne 0 ]; then
			failed+=("$pkg $name")
			printf 'fuzz: %-28s %-26s FAIL after %d execs (%ds)\n' "$pkg" "$name" "$execs" $((SECONDS - t0))
			sed 's/^/    /' "$log"
		else
			printf 'fuzz: %-28s %-26s %9d execs (%ds)%s\n' "$pkg" "$name" "$execs" $((SECONDS - t0)) "$note"
		fi
	done
done
echo "fuzz: $targets targets, $total executions ($((SECONDS - start))s, $FUZZTIME each)"
if [ "${#failed[@]}" -gt 0 ]; then
	printf 'fuzz: FAILED %s\n' "${failed[@]}"
	exit 1
fi
