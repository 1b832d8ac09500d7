package alert

import (
	"errors"
	"strings"
	"testing"

	"gridcode/shared/risk"
)

func TestReportWelcomeFitsOneSegmentForEveryDefaultAction(t *testing.T) {
	t.Parallel()
	for _, g := range risk.DefaultGuidance() {
		msg, err := ReportWelcome.Render(map[string]string{"action": g.Action})
		if err != nil {
			t.Fatalf("%s: %v", g.Level, err)
		}
		if !strings.HasPrefix(msg, Signature) || !strings.Contains(msg, g.Action) {
			t.Fatalf("%s: rendered %q", g.Level, msg)
		}
	}
}

func TestRenderRefuses(t *testing.T) {
	t.Parallel()
	if _, err := ReportWelcome.Render(nil); !errors.Is(err, ErrMissingParam) {
		t.Fatalf("missing param: %v", err)
	}
	long := strings.Repeat("检", 40)
	if _, err := ReportWelcome.Render(map[string]string{"action": long}); !errors.Is(err, ErrTooLong) {
		t.Fatalf("long param: %v", err)
	}
}

func TestLengthCountsUCS2Units(t *testing.T) {
	t.Parallel()
	if Length("abc") != 3 || Length("蓬江") != 2 || Length("𠮷") != 2 {
		t.Fatal("UCS-2 length wrong")
	}
}

func TestEveryTemplateFitsItsSegmentsWithLongestParams(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, tpl := range Templates {
		if seen[tpl.Code] {
			t.Errorf("template %s registered twice", tpl.Code)
		}
		seen[tpl.Code] = true
		if !strings.HasPrefix(tpl.Text, Signature) {
			t.Errorf("%s does not start with the signature", tpl.Code)
		}
		// Registered lengths are in Chinese characters; a character outside
		// the BMP counts twice and Render refuses what no longer fits.
		longest := map[string]string{}
		for name, n := range tpl.Params {
			longest[name] = strings.Repeat("检", n)
		}
		msg, err := tpl.Render(longest)
		if err != nil {
			t.Errorf("%s with its longest parameters: %v", tpl.Code, err)
			continue
		}
		if got := Segments(msg); got > tpl.Segments {
			t.Errorf("%s takes %d segments, declares %d", tpl.Code, got, tpl.Segments)
		}
		tooLong := map[string]string{}
		for name, n := range tpl.Params {
			tooLong[name] = strings.Repeat("检", n+1)
		}
		if _, err := tpl.Render(tooLong); !errors.Is(err, ErrTooLong) {
			t.Errorf("%s accepts a parameter past its registered length: %v", tpl.Code, err)
		}
	}
}

func TestSegments(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]int{1: 1, 70: 1, 71: 2, 134: 2, 135: 3} {
		if got := Segments(strings.Repeat("检", n)); got != want {
			t.Errorf("Segments(%d characters) = %d, want %d", n, got, want)
		}
	}
}
