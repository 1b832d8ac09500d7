// Command reports is the grid worker's read side: GET
// /v1/grids/{gridCode}/reports and GET /v1/reports/{reportId}.
package main

import (
	"context"
	"net/http"

	"gridcode/shared/httpapi"
	"gridcode/shared/lambdaapp"
	"gridcode/shared/report"
	"gridcode/shared/store/dynamo"
)

type config struct {
	Common       lambdaapp.Common
	ReportsTable string `env:"REPORTS_TABLE, required"`
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
	staff, err := rt.Staff()
	if err != nil {
		return err
	}
	store := dynamo.New(rt.DynamoDB(cfg.Common.AWS), dynamo.Tables{Reports: cfg.ReportsTable})
	mux := http.NewServeMux()
	httpapi.ReportsAPI{
		Reader: &report.Reader{Store: store, Vault: vault},
		Staff:  staff,
	}.Register(mux)
	lambdaapp.ServeHTTP(mux)
	return nil
}
