// Command reconcilework runs the reconciliations POST /v1/reconcile
// queued: each SQS message is one job, longer than an HTTP request may
// take. A job that failed comes back until the queue's maxReceiveCount;
// the last delivery records the reconciliation as failed, and the message
// goes to the dead-letter queue.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"gridcode/shared/lambdaapp"
	"gridcode/shared/retention"
	"gridcode/shared/store/dynamo"
	"gridcode/shared/worklist"
	"gridcode/shared/worklist/sqsjobs"
)

type config struct {
	Common               lambdaapp.Common
	ListsTable           string `env:"LISTS_TABLE, required"`
	ListChunksTable      string `env:"LIST_CHUNKS_TABLE, required"`
	TasksTable           string `env:"TASKS_TABLE, required"`
	ReconciliationsTable string `env:"RECONCILIATIONS_TABLE, required"`
	RegistryTable        string `env:"REGISTRY_TABLE, required"`
	MaxReceives          int    `env:"MAX_RECEIVES, required"` // the queue's maxReceiveCount
	// RetentionDays: a new task is kept this long (worklist.TaskExpiresAt;
	// retention.Days).
	RetentionDays int `env:"RETENTION_DAYS, default=28"`
}

// reserve is kept back from the function's timeout to record a job that
// ran out of time as failed.
const reserve = 20 * time.Second

func main() { lambdaapp.Main(realMain) }

func realMain(ctx context.Context) error {
	var cfg config
	rt, err := lambdaapp.Init(ctx, &cfg, &cfg.Common)
	if err != nil {
		return err
	}
	if cfg.MaxReceives < 1 {
		return fmt.Errorf("config: MAX_RECEIVES must be at least 1, got %d", cfg.MaxReceives)
	}
	keep, err := retention.Days("RETENTION_DAYS", cfg.RetentionDays)
	if err != nil {
		return err
	}
	vault, err := rt.Vault()
	if err != nil {
		return err
	}
	store := dynamo.New(rt.DynamoDB(cfg.Common.AWS), dynamo.Tables{
		Lists: cfg.ListsTable, ListChunks: cfg.ListChunksTable, Tasks: cfg.TasksTable,
		Reconciliations: cfg.ReconciliationsTable, Registry: cfg.RegistryTable,
	})
	rc := &worklist.Reconciler{Lists: store, Registry: store, Vault: vault, Now: time.Now, Retention: keep}
	lambda.Start(sqsjobs.Handler{Reconciler: rc, MaxReceives: cfg.MaxReceives, Reserve: reserve}.Handle)
	return nil
}
