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
	"gridcode/shared/ratelimit"
	"gridcode/shared/report"
	"gridcode/shared/retention"
	"gridcode/shared/store/dynamo"
)

type config struct {
	Common        lambdaapp.Common
	ReportsTable  string `env:"REPORTS_TABLE, required"`
	AlertsTable   string `env:"ALERTS_TABLE, required"`
	GridsTable    string `env:"GRIDS_TABLE, required"`
	RulesTable    string `env:"RULES_TABLE, required"`
	RetentionDays int    `env:"RETENTION_DAYS, default=28"` // retention.Days
	// DailyCountsTable keeps each day's reports by risk level, past their
	// retention, for the statistics.
	DailyCountsTable string        `env:"DAILY_COUNTS_TABLE, required"`
	SettingsTTL      time.Duration `env:"SETTINGS_TTL, default=30s"`
	// The abuse limits, counted in RATE_LIMITS_TABLE by every instance
	// together: LIMIT/WINDOW (30/1m) or off; httpapi.DefaultPublicRules.
	RateLimitsTable   string         `env:"RATE_LIMITS_TABLE, required"`
	ReportsPerAddress ratelimit.Rule `env:"REPORTS_PER_ADDRESS, default=30/1m"`
	ReportsPerPerson  ratelimit.Rule `env:"REPORTS_PER_PERSON, default=5/1h"`
}

func main() { lambdaapp.Main(realMain) }

func realMain(ctx context.Context) error {
	var cfg config
	rt, err := lambdaapp.Init(ctx, &cfg, &cfg.Common)
	if err != nil {
		return err
	}
	keep, err := retention.Days("RETENTION_DAYS", cfg.RetentionDays)
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
	db := rt.DynamoDB(cfg.Common.AWS)
	store := dynamo.New(db, dynamo.Tables{
		Reports: cfg.ReportsTable, Alerts: cfg.AlertsTable, Grids: cfg.GridsTable, Rules: cfg.RulesTable,
		DailyCounts: cfg.DailyCountsTable,
	})
	intake := &report.Intake{
		Store:     store,
		Rules:     district.NewSettings(store, areas, time.Now, cfg.SettingsTTL),
		Vault:     vault,
		Areas:     areas,
		Now:       time.Now,
		Retention: keep,
		Gate:      httpapi.Limit{Keyed: ratelimit.NewCounters(db, cfg.RateLimitsTable, "reports-per-person", cfg.ReportsPerPerson)},
	}
	perAddress := httpapi.Limit{Keyed: ratelimit.NewCounters(db, cfg.RateLimitsTable, "reports-per-address", cfg.ReportsPerAddress)}
	mux := http.NewServeMux()
	httpapi.IntakeAPI{Intake: intake, PerAddress: perAddress}.Register(mux)
	lambdaapp.ServeHTTP(mux)
	return nil
}
