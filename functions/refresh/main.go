// Command refresh lets the district office run a day's group refresh by
// hand (POST /v1/refresh/run?date=) and watch any run's progress
// (GET /v1/refresh/runs/{date}).
package main

import (
	"context"
	"net/http"
	"time"

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
	staff, err := rt.Staff()
	if err != nil {
		return err
	}
	store := dynamo.New(rt.DynamoDB(cfg.Common.AWS), dynamo.Tables{Groups: cfg.GroupsTable, RefreshRuns: cfg.RefreshRunsTable})
	planner := &refresh.Planner{
		Groups: store, Runs: store, ShardSize: cfg.ShardSize, Now: time.Now,
		Queue: sqsqueue.New(rt.AWS, cfg.SQSEndpoint, cfg.RefreshQueueURL),
	}
	mux := http.NewServeMux()
	httpapi.RefreshAPI{Planner: planner, Runs: store, Staff: staff}.Register(mux)
	lambdaapp.ServeHTTP(mux)
	return nil
}
