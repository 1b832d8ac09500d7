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
