package samtemplate

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Reconciliation jobs: WorklistFunction queues them (API Gateway waits
// 29 s, a district-wide reconciliation takes longer), ReconcileWorkFunction
// runs them off a queue with a dead-letter queue.
const (
	reconcileWorkID  = "ReconcileWorkFunction"
	reconcileQueueID = "ReconcileQueue"
	reconcileSender  = "WorklistFunction"
)

func reconcileProblems(tp template) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }

	if n := len(eventsOfType(tp, reconcileWorkID, "HttpApi")); n > 0 {
		bad("%s: has HTTP routes; the API's reconciliation is %s", reconcileWorkID, reconcileSender)
	}
	for name, s := range eventsOfType(tp, reconcileWorkID, "SQS") {
		if b := valueOr(get(s, "BatchSize"), ""); b != "1" {
			bad("%s: event %s: BatchSize must be 1 (one job takes the whole timeout), got %q", reconcileWorkID, name, b)
		}
	}
	out = append(out, queueWorkerProblems(tp, reconcileWorkID, reconcileQueueID)...)
	out = append(out, queueSenderProblems(tp, reconcileQueueID, "reconciliations", reconcileSender)...)
	senderEnv := get(get(tp.resourceProps(reconcileSender), "Environment"), "Variables")
	if u := get(senderEnv, "RECONCILE_QUEUE_URL"); u == nil || u.Tag != "!Ref" || u.Value != reconcileQueueID {
		bad("%s: RECONCILE_QUEUE_URL must be !Ref %s", reconcileSender, reconcileQueueID)
	}
	return out
}

// Check 10: the reconciliation's queue, sender and worker fit together.
func TestReconcileFunctions(t *testing.T) {
	for _, p := range reconcileProblems(loadTemplate(t)) {
		t.Error(p)
	}
}

// Each mistake in the reconciliation jobs, made in a copy of
// template.yaml, is caught.
func TestReconcileChecksCatchMistakes(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const sendStatement = "            - Sid: QueueReconciliation\n              Effect: Allow\n              Action: sqs:SendMessage\n              Resource: !GetAtt ReconcileQueue.Arn\n"
	for _, c := range []struct{ name, old, new, want string }{
		{"no partial batch failures", "Queue: !GetAtt ReconcileQueue.Arn\n            BatchSize: 1\n            FunctionResponseTypes:\n              - ReportBatchItemFailures\n", "Queue: !GetAtt ReconcileQueue.Arn\n            BatchSize: 1\n", "lacks ReportBatchItemFailures"},
		{"batches of jobs", "Queue: !GetAtt ReconcileQueue.Arn\n            BatchSize: 1\n", "Queue: !GetAtt ReconcileQueue.Arn\n            BatchSize: 10\n", "BatchSize must be 1"},
		{"receives out of step", "ReconcileQueue's maxReceiveCount (tested).\n          MAX_RECEIVES: \"3\"", "ReconcileQueue's maxReceiveCount (tested).\n          MAX_RECEIVES: \"5\"", "MAX_RECEIVES must equal"},
		{"short visibility", "  ReconcileQueue:\n    Type: AWS::SQS::Queue\n    Properties:\n      VisibilityTimeout: 5400\n", "  ReconcileQueue:\n    Type: AWS::SQS::Queue\n    Properties:\n      VisibilityTimeout: 900\n", "less than six times"},
		{"no dead-letter queue", "        deadLetterTargetArn: !GetAtt ReconcileDeadLetterQueue.Arn\n", "        deadLetterTargetArn: arn:aws:sqs:us-east-1:1:x\n", "must name a queue"},
		{"the worker requeues", "            - Sid: ReadList\n", "            - Sid: Requeue\n              Effect: Allow\n              Action: sqs:SendMessage\n              Resource: !GetAtt ReconcileQueue.Arn\n            - Sid: ReadList\n", "only WorklistFunction queue reconciliations"},
		{"the sender cannot send", sendStatement, "", "no statement grants sqs:SendMessage"},
		{"the sender sends elsewhere", sendStatement, strings.Replace(sendStatement, "ReconcileQueue.Arn", "RefreshQueue.Arn", 1), "not !GetAtt ReconcileQueue.Arn"},
		{"no queue URL", "          RECONCILE_QUEUE_URL: !Ref ReconcileQueue\n", "          RECONCILE_QUEUE_URL: !Ref RefreshQueue\n", "RECONCILE_QUEUE_URL must be"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if strings.Count(string(data), c.old) != 1 {
				t.Fatalf("template.yaml has %d copies of %q; update this test's mutation", strings.Count(string(data), c.old), c.old)
			}
			tp := parseTemplate(t, "mutated template.yaml", []byte(strings.Replace(string(data), c.old, c.new, 1)))
			problems := reconcileProblems(tp)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }) {
				t.Errorf("mutation not caught: want a problem containing %q, got %q", c.want, problems)
			}
		})
	}
}
