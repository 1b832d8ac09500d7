// Command refreshplan starts the daily group refresh at 06:00 district
// time: EventBridge Scheduler invokes it, and it shards every group into
// SQS messages for the refresh workers.
package main

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

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
	store := dynamo.New(rt.DynamoDB(cfg.Common.AWS), dynamo.Tables{Groups: cfg.GroupsTable, RefreshRuns: cfg.RefreshRunsTable})
	planner := &refresh.Planner{
		Groups: store, Runs: store, ShardSize: cfg.ShardSize, Now: time.Now,
		Queue: sqsqueue.New(rt.AWS, cfg.SQSEndpoint, cfg.RefreshQueueURL),
	}
	lambda.Start(refresh.PlanHandler{Planner: planner}.Handle)
	return nil
}
