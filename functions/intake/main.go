// Command intake is the report code's Lambda: POST /v1/reports and
// POST /v1/grids/{gridCode}/reports.
package main

import (
	"context"
	"net/http"
	"time"

	"gridcode/shared/area"
	"gridcode/shared/district"
	"gridcode/shared/httpapi"
	"gridcode/shared/lambdaapp"
	"gridcode/shared/report"
	"gridcode/shared/store/dynamo"
)

type config struct {
	Common        lambdaapp.Common
	ReportsTable  string        `env:"REPORTS_TABLE, required"`
	AlertsTable   string        `env:"ALERTS_TABLE, required"`
	GridsTable    string        `env:"GRIDS_TABLE, required"`
	RulesTable    string        `env:"RULES_TABLE, required"`
	RetentionDays int           `env:"RETENTION_DAYS, default=60"`
	SettingsTTL   time.Duration `env:"SETTINGS_TTL, default=30s"`
}

func main() { lambdaapp.Main(realMain) }

func realMain(ctx context.Context) error {
	var cfg config
	rt, err := lambdaapp.Init(ctx, &cfg, &cfg.Common)
	if err != nil {
		return err
	}
	vault, err := rt.Vault()
	if err != nil {
		return err
	}
	areas, err := area.Load()
	if err != nil {
		return err
	}
	store := dynamo.New(rt.DynamoDB(cfg.Common.AWS), dynamo.Tables{
		Reports: cfg.ReportsTable, Alerts: cfg.AlertsTable, Grids: cfg.GridsTable, Rules: cfg.RulesTable,
	})
	intake := &report.Intake{
		Store:     store,
		Rules:     district.NewSettings(store, areas, time.Now, cfg.SettingsTTL),
		Vault:     vault,
		Areas:     areas,
		Now:       time.Now,
		Retention: time.Duration(cfg.RetentionDays) * 24 * time.Hour,
	}
	mux := http.NewServeMux()
	httpapi.IntakeAPI{Intake: intake}.Register(mux)
	lambdaapp.ServeHTTP(mux)
	return nil
}
