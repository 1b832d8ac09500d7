package samtemplate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// queueWorkerProblems checks a function that works off a queue: one SQS
// event reading !GetAtt <queue>.Arn with ReportBatchItemFailures (one failed
// message must not redeliver the batch), a dead-letter queue of the
// template, MAX_RECEIVES (where the function reads it) equal to the queue's
// maxReceiveCount, and AWS's advice of a visibility timeout of six times
// the function's, so a message is not delivered again while a slow
// invocation still works on it.
func queueWorkerProblems(tp template, fnID, queueID string) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	sqsEvents := eventsOfType(tp, fnID, "SQS")
	if len(sqsEvents) != 1 {
		bad("%s: want exactly one SQS event, got %d", fnID, len(sqsEvents))
	}
	for name, s := range sqsEvents {
		if q := get(s, "Queue"); q == nil || q.Tag != "!GetAtt" || q.Value != queueID+".Arn" {
			bad("%s: event %s must read !GetAtt %s.Arn", fnID, name, queueID)
		}
		var types []string
		for _, n := range items(get(s, "FunctionResponseTypes")) {
			types = append(types, n.Value)
		}
		if !slices.Contains(types, "ReportBatchItemFailures") {
			bad("%s: event %s lacks ReportBatchItemFailures: one failed message would redeliver the batch", fnID, name)
		}
	}
	queue := get(get(get(tp.yaml, "Resources"), queueID), "Properties")
	redrive := get(queue, "RedrivePolicy")
	dlqRefs := map[string]bool{}
	refs(get(redrive, "deadLetterTargetArn"), dlqRefs)
	if len(only(dlqRefs, tp.cfn.GetAllSQSQueueResources())) != 1 {
		bad("%s: RedrivePolicy.deadLetterTargetArn must name a queue of the template", queueID)
	}
	env := get(get(tp.resourceProps(fnID), "Environment"), "Variables")
	if receives := get(env, "MAX_RECEIVES"); receives != nil {
		if max := get(redrive, "maxReceiveCount"); max == nil || receives.Value != max.Value {
			bad("%s: MAX_RECEIVES must equal %s's RedrivePolicy.maxReceiveCount", fnID, queueID)
		}
	}
	timeout, _ := strconv.Atoi(valueOr(get(tp.resourceProps(fnID), "Timeout"), "0"))
	visibility, _ := strconv.Atoi(valueOr(get(queue, "VisibilityTimeout"), "0"))
	if timeout == 0 || visibility < 6*timeout {
		bad("%s: VisibilityTimeout %d is less than six times %s's Timeout %d", queueID, visibility, fnID, timeout)
	}
	return out
}

// queueSenderProblems checks that only senders may send to a queue, that
// each of them does, and that they send nowhere else; what names the
// messages.
func queueSenderProblems(tp template, queueID, what string, senders ...string) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	sends := map[string]bool{}
	for id := range tp.cfn.GetAllServerlessFunctionResources() {
		sender := slices.Contains(senders, id)
		for _, doc := range items(get(tp.resourceProps(id), "Policies")) {
			for _, st := range items(get(doc, "Statement")) {
				sid := valueOr(get(st, "Sid"), "?")
				for _, a := range items(get(st, "Action")) {
					if !grantsAction(a.Value, "sqs:SendMessage") {
						continue
					}
					for _, r := range items(get(st, "Resource")) {
						onQueue := r.Tag == "!GetAtt" && r.Value == queueID+".Arn"
						switch {
						case onQueue && !sender:
							bad("%s: statement %q grants sqs:SendMessage on %s; only %s queue %s", id, sid, queueID, strings.Join(senders, " and "), what)
						case sender && !onQueue:
							bad("%s: statement %q grants sqs:SendMessage on %q, not !GetAtt %s.Arn", id, sid, r.Value, queueID)
						case onQueue:
							sends[id] = true
						}
					}
				}
			}
		}
	}
	for _, id := range senders {
		if !sends[id] {
			bad("%s: no statement grants sqs:SendMessage on %s", id, queueID)
		}
	}
	return out
}
