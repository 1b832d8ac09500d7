// Package sqsfake is a queue that answers SendMessageBatch in the SQS JSON
// protocol (awsJson1_0), for tests of the code that sends refresh shards:
// SQS itself cannot run here. It checks what the SDK sends as SQS would
// (the target, the queue URL, at most ten entries with unique ids) and
// answers with the body's MD5, which the SDK verifies.
package sqsfake

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
)

// Message is one message the queue accepted.
type Message struct {
	ID   string
	Body string
}

// Queue is an http.Handler; point the SDK's BaseEndpoint at it.
type Queue struct {
	URL string // the queue URL callers must name

	mu       sync.Mutex
	messages []Message
	failNext int // entries to fail (as a server fault) before accepting again
	calls    int
}

// FailNext makes the next n entries fail with a retryable server fault.
func (q *Queue) FailNext(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.failNext = n
}

// Messages returns what the queue accepted, in order.
func (q *Queue) Messages() []Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]Message(nil), q.messages...)
}

// Calls counts SendMessageBatch requests.
func (q *Queue) Calls() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.calls
}

type entry struct {
	ID          string `json:"Id"`
	MessageBody string `json:"MessageBody"`
}

type result struct {
	ID               string `json:"Id"`
	MessageID        string `json:"MessageId,omitempty"`
	MD5OfMessageBody string `json:"MD5OfMessageBody,omitempty"`
	Code             string `json:"Code,omitempty"`
	SenderFault      bool   `json:"SenderFault,omitempty"`
	Message          string `json:"Message,omitempty"`
}

func (q *Queue) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if target := r.Header.Get("X-Amz-Target"); target != "AmazonSQS.SendMessageBatch" {
		fault(w, http.StatusBadRequest, "InvalidAction", "unsupported target "+target)
		return
	}
	var in struct {
		QueueURL string  `json:"QueueUrl"`
		Entries  []entry `json:"Entries"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		fault(w, http.StatusBadRequest, "MalformedInput", err.Error())
		return
	}
	if in.QueueURL != q.URL {
		fault(w, http.StatusBadRequest, "AWS.SimpleQueueService.NonExistentQueue", "no queue "+in.QueueURL)
		return
	}
	if len(in.Entries) == 0 || len(in.Entries) > 10 {
		fault(w, http.StatusBadRequest, "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", strconv.Itoa(len(in.Entries))+" entries")
		return
	}
	ids := map[string]bool{}
	for _, e := range in.Entries {
		if ids[e.ID] {
			fault(w, http.StatusBadRequest, "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", e.ID)
			return
		}
		ids[e.ID] = true
	}
	q.mu.Lock()
	q.calls++
	var out struct {
		Successful []result `json:"Successful"`
		Failed     []result `json:"Failed"`
	}
	for _, e := range in.Entries {
		if q.failNext > 0 {
			q.failNext--
			out.Failed = append(out.Failed, result{ID: e.ID, Code: "InternalError", Message: "try again"})
			continue
		}
		sum := md5.Sum([]byte(e.MessageBody))
		q.messages = append(q.messages, Message{ID: fmt.Sprintf("msg-%d", len(q.messages)+1), Body: e.MessageBody})
		out.Successful = append(out.Successful, result{ID: e.ID, MessageID: q.messages[len(q.messages)-1].ID, MD5OfMessageBody: hex.EncodeToString(sum[:])})
	}
	q.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	json.NewEncoder(w).Encode(out)
}

func fault(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-Query-Error", code+";Sender")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + code, "message": msg})
}
