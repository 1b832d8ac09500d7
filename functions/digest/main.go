// Command digest is the grid workers' digest job: an EventBridge schedule
// runs it every minute, and each run queues at most one digest SMS per grid
// worker per window into the alerts outbox, which the fan-out then sends.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"gridcode/shared/digest"
	"gridcode/shared/lambdaapp"
	"gridcode/shared/store/dynamo"
)

type config struct {
	Common        lambdaapp.Common
	ReportsTable  string        `env:"REPORTS_TABLE, required"`
	AlertsTable   string        `env:"ALERTS_TABLE, required"`
	GridsTable    string        `env:"GRIDS_TABLE, required"`
	RulesTable    string        `env:"RULES_TABLE, required"` // district.Settings reads the rule sets with the grids
	DigestWindow  time.Duration `env:"DIGEST_WINDOW, default=30m"`
	QuietHours    string        `env:"QUIET_HOURS, default=22-7"` // set and empty: no quiet hours
	RetentionDays int           `env:"RETENTION_DAYS, default=28"`
	SettingsTTL   time.Duration `env:"SETTINGS_TTL, default=30s"`
}

func main() { lambdaapp.Main(realMain) }

func realMain(ctx context.Context) error {
	var cfg config
	rt, err := lambdaapp.Init(ctx, &cfg, &cfg.Common)
	if err != nil {
		return err
	}
	schedule, err := digest.NewSchedule(cfg.DigestWindow, cfg.QuietHours)
	if err != nil {
		return fmt.Errorf("config: DIGEST_WINDOW or QUIET_HOURS: %w", err)
	}
	if cfg.RetentionDays < 1 {
		return fmt.Errorf("config: RETENTION_DAYS must be at least 1, got %d", cfg.RetentionDays)
	}
	if cfg.SettingsTTL < 0 {
		return fmt.Errorf("config: SETTINGS_TTL must not be negative, got %s", cfg.SettingsTTL)
	}
	vault, err := rt.Vault()
	if err != nil {
		return err
	}
	store := dynamo.New(rt.DynamoDB(cfg.Common.AWS), dynamo.Tables{
		Reports: cfg.ReportsTable, Alerts: cfg.AlertsTable, Grids: cfg.GridsTable, Rules: cfg.RulesTable,
	})
	settings, err := lambdaapp.Settings(store, cfg.SettingsTTL)
	if err != nil {
		return err
	}
	job := &digest.Job{
		Schedule:  schedule,
		Grids:     settings,
		Reports:   store,
		Outbox:    store,
		Vault:     vault,
		Now:       time.Now,
		Retention: time.Duration(cfg.RetentionDays) * 24 * time.Hour,
	}
	lambda.Start(handler{job: job}.Handle)
	return nil
}
