package lambdarie_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"gridcode/infra/lambdarie"
)

type echoResponse struct {
	Event  json.RawMessage `json:"event"`
	Env    string          `json:"env"`
	Region string          `json:"region"`
	Count  int             `json:"count"`
}

func TestEcho(t *testing.T) {
	bin := lambdarie.Build(t, "./testdata/echo")
	emu := lambdarie.Start(t, bin, "ECHO_ENV=hello-env")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for i, payload := range []string{`{"n":1}`, `{"n":2,"s":"two"}`} {
		out, err := emu.Invoke(ctx, []byte(payload))
		if err != nil {
			t.Fatalf("invoke %d: %v", i+1, err)
		}
		var got echoResponse
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("invoke %d: bad JSON %q: %v\nemulator output:\n%s", i+1, out, err, emu.Output())
		}
		if string(got.Event) != payload {
			t.Errorf("invoke %d: event = %s, want %s", i+1, got.Event, payload)
		}
		if got.Env != "hello-env" {
			t.Errorf("invoke %d: env = %q, want hello-env", i+1, got.Env)
		}
		if got.Region != "us-east-1" {
			t.Errorf("invoke %d: AWS_REGION = %q, want the default us-east-1", i+1, got.Region)
		}
		// The function process stays warm between invocations.
		if got.Count != i+1 {
			t.Errorf("invoke %d: count = %d, want %d", i+1, got.Count, i+1)
		}
	}
}

func TestHandlerError(t *testing.T) {
	bin := lambdarie.Build(t, "./testdata/echo")
	emu := lambdarie.Start(t, bin, "AWS_REGION=eu-west-1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	out, err := emu.Invoke(ctx, []byte(`{"fail":"boom"}`))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var fe struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if err := json.Unmarshal(out, &fe); err != nil || fe.ErrorMessage != "boom" {
		t.Fatalf("handler error: body %q (err %v), want errorMessage boom", out, err)
	}

	// The function survives a handler error; env overrides the defaults.
	out, err = emu.Invoke(ctx, []byte(`{}`))
	if err != nil {
		t.Fatalf("invoke after error: %v", err)
	}
	var got echoResponse
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("bad JSON %q: %v", out, err)
	}
	if got.Region != "eu-west-1" || got.Count != 2 {
		t.Errorf("after error: region=%q count=%d, want eu-west-1 and 2", got.Region, got.Count)
	}
	if !strings.Contains(emu.Output(), "END RequestId") {
		t.Errorf("Output() lacks the emulator's END lines:\n%s", emu.Output())
	}
}

func TestBuildImportPath(t *testing.T) {
	// An import path works as well as a directory path.
	bin := lambdarie.Build(t, "gridcode/infra/lambdarie/testdata/echo")
	emu := lambdarie.Start(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := emu.Invoke(ctx, []byte(`"x"`))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	if !strings.Contains(string(out), `"event":"x"`) {
		t.Fatalf("unexpected response %s", out)
	}
}
