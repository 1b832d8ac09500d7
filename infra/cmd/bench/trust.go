package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
)

// trustSummary is the bench's closing table: what the trust checks
// covered in this run.
type trustSummary struct {
	routes, callers, requests int // the access matrix
	accessFailed              bool
	fuzzTargets               int
	fuzzExecs                 int64
	fuzzTime                  string
	crash                     *crashSummary
}

// crashSummary is what the crash row found, for the summary.
type crashSummary struct {
	kills, acked, lostReports, lostAlerts, duplicateSMS, sms int
}

var (
	accessLine = regexp.MustCompile(`(\d+) routes × (\d+) callers: (\d+) requests checked`)
	fuzzLine   = regexp.MustCompile(`fuzz: (\d+) targets, (\d+) executions`)
)

// checkAccess runs the route × role × scope test (infra/local) and reads
// how much it asked.
func checkAccess(ctx context.Context, s *trustSummary) error {
	out, err := exec.CommandContext(ctx, "go", "test", "-count=1", "-run", "^TestEveryRouteEveryRole$", "-v", "./infra/local/").CombinedOutput()
	m := accessLine.FindSubmatch(out)
	if m == nil {
		return fmt.Errorf("access test: no count in its output (%v):\n%s", err, tail(out))
	}
	s.routes, _ = strconv.Atoi(string(m[1]))
	s.callers, _ = strconv.Atoi(string(m[2]))
	s.requests, _ = strconv.Atoi(string(m[3]))
	s.accessFailed = err != nil
	return nil
}

// fuzzAll runs every fuzz target for fuzzTime each (infra/scripts/fuzz.sh)
// and reads the executions.
func fuzzAll(ctx context.Context, fuzzTime string, s *trustSummary) error {
	cmd := exec.CommandContext(ctx, "infra/scripts/fuzz.sh")
	cmd.Env = append(os.Environ(), "FUZZTIME="+fuzzTime)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("fuzz: %w:\n%s", err, tail(out))
	}
	m := fuzzLine.FindSubmatch(out)
	if m == nil {
		return fmt.Errorf("fuzz: no total in its output:\n%s", tail(out))
	}
	s.fuzzTargets, _ = strconv.Atoi(string(m[1]))
	s.fuzzExecs, _ = strconv.ParseInt(string(m[2]), 10, 64)
	s.fuzzTime = fuzzTime
	return nil
}

func tail(b []byte) []byte {
	if i := len(b) - 2000; i > 0 {
		b = b[i:]
	}
	return bytes.TrimSpace(b)
}

// print writes the summary table.
func (s trustSummary) print(out *bytes.Buffer) {
	fmt.Fprintln(out, "\n| trust check | this run |")
	fmt.Fprintln(out, "| --- | --- |")
	if s.requests > 0 {
		verdict := "every answer as its rule says"
		if s.accessFailed {
			verdict = "SOME ANSWERS WRONG (see go test -run TestEveryRouteEveryRole ./infra/local/)"
		}
		fmt.Fprintf(out, "| routes × roles checked | %d routes × %d callers (nobody, the district office, the health feed, workers and group administrators of the data's scope and of another, a worker of several grids): %d requests, %s |\n",
			s.routes, s.callers, s.requests, verdict)
	}
	if s.fuzzTargets > 0 {
		fmt.Fprintf(out, "| fuzz executions | %d over %d targets, %s each, no failing input |\n", s.fuzzExecs, s.fuzzTargets, s.fuzzTime)
	}
	if c := s.crash; c != nil {
		fmt.Fprintf(out, "| crash iterations and losses | %d SIGKILLs: %d reports answered, %d lost; %d alerts lost |\n", c.kills, c.acked, c.lostReports, c.lostAlerts)
		fmt.Fprintf(out, "| duplicate SMS | %d of %d sent |\n", c.duplicateSMS, c.sms)
	}
}
