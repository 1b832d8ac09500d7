// Command reports is the grid worker's side of reports: a grid's list, one
// report, its follow-ups, and the overdue and escalated worklists.
package main

import (
	"context"
	"net/http"
	"time"

	"gridcode/shared/gridwork"
	"gridcode/shared/httpapi"
	"gridcode/shared/lambdaapp"
	"gridcode/shared/report"
	"gridcode/shared/retention"
	"gridcode/shared/store/dynamo"
)

type config struct {
	Common       lambdaapp.Common
	ReportsTable string        `env:"REPORTS_TABLE, required"`
	GridsTable   string        `env:"GRIDS_TABLE, required"`
	RulesTable   string        `env:"RULES_TABLE, required"`
	AuditTable   string        `env:"AUDIT_TABLE, required"` // every person shown, and every follow-up
	SettingsTTL  time.Duration `env:"SETTINGS_TTL, default=30s"`
	// RetentionDays: a follow-up keeps its report this long after it
	// (report.ExpiresAt; retention.Days).
	RetentionDays int `env:"RETENTION_DAYS, default=28"`
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
	staff, err := rt.Staff()
	if err != nil {
		return err
	}
	store := dynamo.New(rt.DynamoDB(cfg.Common.AWS), dynamo.Tables{
		Reports: cfg.ReportsTable, Grids: cfg.GridsTable, Rules: cfg.RulesTable, Audit: cfg.AuditTable,
	})
	settings, err := lambdaapp.Settings(store, cfg.SettingsTTL)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	httpapi.ReportsAPI{
		Reader: &report.Reader{Store: store, Vault: vault},
		Audit:  gridwork.Auditor{Log: store, Now: time.Now},
		Staff:  staff,
	}.Register(mux)
	httpapi.NewFollowUpsAPI(store, settings, vault, time.Now, staff).WithRetention(keep).Register(mux)
	lambdaapp.ServeHTTP(mux)
	return nil
}
