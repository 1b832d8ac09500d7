// Command directory serves the district's settings: GET /v1/grids, the
// risk-area list and the guidance table, the county list and the report
// QR codes, GET /v1/me and GET /healthz.
package main

import (
	"context"
	"net/http"
	"time"

	"gridcode/shared/area"
	"gridcode/shared/httpapi"
	"gridcode/shared/lambdaapp"
	"gridcode/shared/store/dynamo"
)

type config struct {
	Common      lambdaapp.Common
	GridsTable  string        `env:"GRIDS_TABLE, required"`
	RulesTable  string        `env:"RULES_TABLE, required"`
	SettingsTTL time.Duration `env:"SETTINGS_TTL, default=30s"`
	ReportURL   string        `env:"REPORT_URL, required"` // the report form; a grid's code appends /<gridCode>
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
	store := dynamo.New(rt.DynamoDB(cfg.Common.AWS), dynamo.Tables{Grids: cfg.GridsTable, Rules: cfg.RulesTable})
	settings, err := lambdaapp.Settings(store, cfg.SettingsTTL)
	if err != nil {
		return err
	}
	areas, err := area.Load()
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	httpapi.DirectoryAPI{
		Settings:  settings,
		Areas:     areas,
		ReportURL: cfg.ReportURL,
		Staff:     staff,
	}.Register(mux)
	lambdaapp.ServeHTTP(mux)
	return nil
}
