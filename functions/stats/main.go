// Command stats is the district office's view: GET /v1/stats.
package main

import (
	"context"
	"net/http"
	"time"

	"gridcode/shared/httpapi"
	"gridcode/shared/lambdaapp"
	"gridcode/shared/report"
	"gridcode/shared/store/dynamo"
)

type config struct {
	Common       lambdaapp.Common
	ReportsTable string `env:"REPORTS_TABLE, required"`
	AlertsTable  string `env:"ALERTS_TABLE, required"`
	TasksTable   string `env:"TASKS_TABLE, required"`
	GridsTable   string `env:"GRIDS_TABLE, required"`
	RulesTable   string `env:"RULES_TABLE, required"`
	// DailyCountsTable has each day's reports by risk level, kept past the
	// reports' retention.
	DailyCountsTable string        `env:"DAILY_COUNTS_TABLE, required"`
	SettingsTTL      time.Duration `env:"SETTINGS_TTL, default=30s"`
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
	store := dynamo.New(rt.DynamoDB(cfg.Common.AWS), dynamo.Tables{
		Reports: cfg.ReportsTable, Alerts: cfg.AlertsTable, Tasks: cfg.TasksTable, Grids: cfg.GridsTable, Rules: cfg.RulesTable,
		DailyCounts: cfg.DailyCountsTable,
	})
	settings, err := lambdaapp.Settings(store, cfg.SettingsTTL)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	httpapi.StatsAPI{Source: store, Grids: settings, Deadlines: report.DefaultDeadlines(), Staff: staff}.Register(mux)
	lambdaapp.ServeHTTP(mux)
	return nil
}
