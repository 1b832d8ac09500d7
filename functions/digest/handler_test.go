package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"gridcode/shared/digest"
)

type fakeJob struct {
	res  digest.Result
	err  error
	runs int
}

func (f *fakeJob) Run(context.Context) (digest.Result, error) {
	f.runs++
	return f.res, f.err
}

func TestHandle(t *testing.T) {
	t.Parallel()
	scheduled, err := os.ReadFile(filepath.Join("testdata", "scheduled-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	partly := errors.New("digest of grid G1: throttled")
	for _, c := range []struct {
		name     string
		event    string
		job      fakeJob
		want     result
		wantErr  error
		wantRuns int
	}{
		{"scheduled event", string(scheduled), fakeJob{res: digest.Result{Grids: 2, Queued: 3}}, result{Grids: 2, Queued: 3}, nil, 1},
		{"raw scheduled event", `{"detail-type":"Scheduled Event","source":"aws.events","detail":{}}`, fakeJob{}, result{}, nil, 1},
		{"some grids failed", string(scheduled), fakeJob{res: digest.Result{Grids: 1, Queued: 2}, err: partly}, result{Grids: 1, Queued: 2}, partly, 1},
		{"another EventBridge event", `{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2"}`, fakeJob{}, result{}, ErrUnknownEvent, 0},
		{"a stream batch", `{"Records":[{"eventSource":"aws:dynamodb"}]}`, fakeJob{}, result{}, ErrUnknownEvent, 0},
		{"not an object", `[]`, fakeJob{}, result{}, ErrUnknownEvent, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			job := c.job
			got, err := handler{job: &job}.Handle(context.Background(), json.RawMessage(c.event))
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil) {
				t.Errorf("err = %v, want %v", err, c.wantErr)
			}
			if got != c.want || job.runs != c.wantRuns {
				t.Errorf("got %+v after %d runs, want %+v after %d", got, job.runs, c.want, c.wantRuns)
			}
		})
	}
}
