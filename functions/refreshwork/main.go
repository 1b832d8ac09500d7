// Command refreshwork builds the daily lists of the groups in each SQS
// message the planner sent, with partial batch failures: a shard with a
// failed group comes back until the queue's maxReceiveCount, then goes to
// the dead-letter queue and shows in the run's progress as failed.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"gridcode/shared/lambdaapp"
	"gridcode/shared/refresh"
	"gridcode/shared/store/dynamo"
)

type config struct {
	Common           lambdaapp.Common
	GroupsTable      string        `env:"GROUPS_TABLE, required"`
	MembersTable     string        `env:"MEMBERS_TABLE, required"`
	HealthTable      string        `env:"HEALTH_TABLE, required"`
	DailyListsTable  string        `env:"DAILY_LISTS_TABLE, required"`
	RefreshRunsTable string        `env:"REFRESH_RUNS_TABLE, required"`
	AlertsTable      string        `env:"ALERTS_TABLE, required"`
	MaxReceives      int           `env:"MAX_RECEIVES, required"` // the queue's maxReceiveCount
	NATLimit         time.Duration `env:"NAT_LIMIT, default=72h"`
	RetentionDays    int           `env:"RETENTION_DAYS, default=28"`
	Parallel         int           `env:"PARALLEL_GROUPS, default=8"`
}

func main() { lambdaapp.Main(realMain) }

func realMain(ctx context.Context) error {
	var cfg config
	rt, err := lambdaapp.Init(ctx, &cfg, &cfg.Common)
	if err != nil {
		return err
	}
	for name, v := range map[string]int{"MAX_RECEIVES": cfg.MaxReceives, "RETENTION_DAYS": cfg.RetentionDays, "PARALLEL_GROUPS": cfg.Parallel} {
		if v < 1 {
			return fmt.Errorf("config: %s must be at least 1, got %d", name, v)
		}
	}
	if cfg.NATLimit <= 0 {
		return fmt.Errorf("config: NAT_LIMIT must be positive, got %s", cfg.NATLimit)
	}
	vault, err := rt.Vault()
	if err != nil {
		return err
	}
	store := dynamo.New(rt.DynamoDB(cfg.Common.AWS), dynamo.Tables{
		Groups: cfg.GroupsTable, Members: cfg.MembersTable, Health: cfg.HealthTable,
		DailyLists: cfg.DailyListsTable, RefreshRuns: cfg.RefreshRunsTable, Alerts: cfg.AlertsTable,
	})
	worker := &refresh.Worker{
		Groups: store, Lists: store, Health: store, Runs: store, Vault: vault, Now: time.Now,
		NATLimit: cfg.NATLimit, Retention: time.Duration(cfg.RetentionDays) * 24 * time.Hour, Parallel: cfg.Parallel,
	}
	lambda.Start(refresh.ShardHandler{Worker: worker, MaxReceives: cfg.MaxReceives}.Handle)
	return nil
}
