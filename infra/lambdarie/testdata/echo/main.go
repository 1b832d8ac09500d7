// Command echo is a Lambda handler used by the lambdarie tests: it echoes the
// event, the ECHO_ENV variable and how many times it was invoked.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

type response struct {
	Event  json.RawMessage `json:"event"`
	Env    string          `json:"env"`
	Region string          `json:"region"`
	Count  int             `json:"count"`
}

var count int

func handle(_ context.Context, event json.RawMessage) (response, error) {
	count++
	var probe struct {
		Fail string `json:"fail"`
	}
	_ = json.Unmarshal(event, &probe)
	if probe.Fail != "" {
		return response{}, errors.New(probe.Fail)
	}
	return response{Event: event, Env: os.Getenv("ECHO_ENV"), Region: os.Getenv("AWS_REGION"), Count: count}, nil
}

func main() { lambda.Start(handle) }
