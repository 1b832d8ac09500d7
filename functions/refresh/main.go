// Command refresh lets the district office run a day's group refresh by
// hand (POST /v1/refresh/run?date=) and watch any run's progress
// (GET /v1/refresh/runs/{date}).
package main

import (
	"context"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"gridcode/shared/httpapi"
	"gridcode/shared/lambdaapp"
	"gridcode/shared/refresh"
	"gridcode/shared/refresh/sqsqueue"
	"gridcode/shared/store/dynamo"
)

type config struct {
	Common           lambdaapp.Common
	GroupsTable      string `env:"GROUPS_TABLE, required"`
	RefreshRunsTable string `env:"REFRESH_RUNS_TABLE, required"`
	RefreshQueueURL  string `env:"REFRESH_QUEUE_URL, required"`
	SQSEndpoint      string `env:"SQS_ENDPOINT"` // a local SQS in tests
	ShardSize        int    `env:"SHARD_SIZE, default=50"`
}

func main() { lambdaapp.Main(realMain) }

func realMain(ctx context.Context) error {
	var cfg config
	rt, err := lambdaapp.Init(ctx, &cfg, &cfg.Common)
	if err != nil {
		return err
	}
	issuer, err := rt.Issuer()
	if err != nil {
		return err
	}
	// Built here, not in lambdaapp, so that only the planners link the SQS SDK.
	sqsClient := sqs.NewFromConfig(rt.AWS, func(o *sqs.Options) {
		if cfg.SQSEndpoint != "" {
			o.BaseEndpoint = aws.String(cfg.SQSEndpoint)
		}
	})
	store := dynamo.New(rt.DynamoDB(cfg.Common.AWS), dynamo.Tables{Groups: cfg.GroupsTable, RefreshRuns: cfg.RefreshRunsTable})
	planner := &refresh.Planner{
		Groups: store, Runs: store, ShardSize: cfg.ShardSize, Now: time.Now,
		Queue: sqsqueue.Queue{API: sqsClient, URL: cfg.RefreshQueueURL},
	}
	mux := http.NewServeMux()
	httpapi.RefreshAPI{Planner: planner, Runs: store, Staff: httpapi.Staff{Issuer: issuer, Now: time.Now}}.Register(mux)
	lambdaapp.ServeHTTP(mux)
	return nil
}
