package samtemplate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"gridcode/shared/refresh"
)

// The daily refresh: a planner on EventBridge Scheduler at 06:00 district
// time, a queue with a dead-letter queue, and a worker whose MAX_RECEIVES
// is the queue's maxReceiveCount (the delivery that reaches it records its
// failures as final).
const (
	planID    = "RefreshPlanFunction"
	workID    = "RefreshWorkFunction"
	queueID   = "RefreshQueue"
	dailyCron = "cron(0 6 * * ? *)"
)

// eventsOfType returns a function's events of one type, by name.
func eventsOfType(tp template, id, typ string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	evs := get(tp.resourceProps(id), "Events")
	for i := 0; evs != nil && i+1 < len(evs.Content); i += 2 {
		if t := get(evs.Content[i+1], "Type"); t != nil && t.Value == typ {
			out[evs.Content[i].Value] = get(evs.Content[i+1], "Properties")
		}
	}
	return out
}

func refreshProblems(tp template) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }

	schedules := eventsOfType(tp, planID, "ScheduleV2")
	if len(schedules) != 1 {
		bad("%s: want exactly one ScheduleV2 event (EventBridge Scheduler), got %d", planID, len(schedules))
	}
	for name, s := range schedules {
		if e := get(s, "ScheduleExpression"); e == nil || e.Value != dailyCron {
			bad("%s: event %s: ScheduleExpression must be %s", planID, name, dailyCron)
		}
		if z := get(s, "ScheduleExpressionTimezone"); z == nil || z.Value != "Asia/Shanghai" {
			bad("%s: event %s: ScheduleExpressionTimezone must be Asia/Shanghai", planID, name)
		}
		in := get(s, "Input")
		var ev struct {
			DetailType string `json:"detail-type"`
			Time       string `json:"time"`
		}
		if in == nil || json.Unmarshal([]byte(in.Value), &ev) != nil || ev.Time != "<aws.scheduler.scheduled-time>" || ev.DetailType != "Scheduled Event" {
			bad("%s: event %s: Input must be a Scheduled Event whose time is <aws.scheduler.scheduled-time>", planID, name)
		} else {
			var typed refresh.ScheduledEvent
			sample := strings.Replace(in.Value, "<aws.scheduler.scheduled-time>", "2026-11-28T22:00:00Z", 1)
			if err := json.Unmarshal([]byte(sample), &typed); err != nil || typed.Time.IsZero() {
				bad("%s: event %s: the planner cannot read the Input's time: %v", planID, name, err)
			}
		}
	}
	if n := len(eventsOfType(tp, planID, "HttpApi")); n > 0 {
		bad("%s: has HTTP routes; the API's refresh is RefreshFunction", planID)
	}

	out = append(out, queueWorkerProblems(tp, workID, queueID)...)
	// The planners queue the day's shards: the schedule's and the manual one.
	out = append(out, queueSenderProblems(tp, queueID, "shards", planID, "RefreshFunction")...)
	return out
}

func valueOr(n *yaml.Node, def string) string {
	if n == nil {
		return def
	}
	return n.Value
}

// Check 8: the refresh's schedule, queue and worker fit together.
func TestRefreshFunctions(t *testing.T) {
	for _, p := range refreshProblems(loadTemplate(t)) {
		t.Error(p)
	}
}

// Each mistake in the refresh, made in a copy of template.yaml, is caught.
func TestRefreshChecksCatchMistakes(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, old, new, want string }{
		{"06:00 UTC", "            ScheduleExpressionTimezone: Asia/Shanghai\n", "", "must be Asia/Shanghai"},
		{"a different hour", "cron(0 6 * * ? *)", "cron(0 8 * * ? *)", "ScheduleExpression must be"},
		{"no scheduled time", `"time":"<aws.scheduler.scheduled-time>"`, `"time":"2026-01-01T00:00:00Z"`, "Input must be a Scheduled Event"},
		{"no partial batch failures", "Queue: !GetAtt RefreshQueue.Arn\n            BatchSize: 1\n            FunctionResponseTypes:\n              - ReportBatchItemFailures\n", "Queue: !GetAtt RefreshQueue.Arn\n            BatchSize: 1\n", "lacks ReportBatchItemFailures"},
		{"receives out of step", "RefreshQueue's maxReceiveCount (tested).\n          MAX_RECEIVES: \"3\"", "RefreshQueue's maxReceiveCount (tested).\n          MAX_RECEIVES: \"5\"", "MAX_RECEIVES must equal"},
		{"short visibility", "      VisibilityTimeout: 720\n", "      VisibilityTimeout: 60\n", "less than six times"},
		{"no dead-letter queue", "        deadLetterTargetArn: !GetAtt RefreshDeadLetterQueue.Arn\n", "        deadLetterTargetArn: arn:aws:sqs:us-east-1:1:x\n", "must name a queue"},
		{"the worker queues shards", "            - Sid: ReadGroup\n", "            - Sid: Requeue\n              Effect: Allow\n              Action: sqs:SendMessage\n              Resource: !GetAtt RefreshQueue.Arn\n            - Sid: ReadGroup\n", "only RefreshPlanFunction and RefreshFunction queue shards"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if strings.Count(string(data), c.old) != 1 {
				t.Fatalf("template.yaml has %d copies of %q; update this test's mutation", strings.Count(string(data), c.old), c.old)
			}
			tp := parseTemplate(t, "mutated template.yaml", []byte(strings.Replace(string(data), c.old, c.new, 1)))
			problems := refreshProblems(tp)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }) {
				t.Errorf("mutation not caught: want a problem containing %q, got %q", c.want, problems)
			}
		})
	}
}
