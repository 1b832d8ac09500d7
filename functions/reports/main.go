// Command reports is the grid worker's read side: GET
// /v1/grids/{gridCode}/reports and GET /v1/reports/{reportId}.
package main

import (
	"context"
	"net/http"
	"time"

	"gridcode/shared/auth"
	"gridcode/shared/httpapi"
	"gridcode/shared/lambdaapp"
	"gridcode/shared/report"
	"gridcode/shared/store/dynamo"
)

type config struct {
	Keys         lambdaapp.Keys
	AWS          lambdaapp.AWS
	ReportsTable string `env:"REPORTS_TABLE, required"`
}

func main() {
	if err := realMain(context.Background()); err != nil {
		lambdaapp.Exit(err)
	}
}

func realMain(ctx context.Context) error {
	lambdaapp.UseLambdaLogs()
	var cfg config
	if err := lambdaapp.LoadConfig(ctx, &cfg); err != nil {
		return err
	}
	awsCfg, err := lambdaapp.AWSConfig(ctx)
	if err != nil {
		return err
	}
	keys, err := lambdaapp.LoadKeys(ctx, awsCfg, cfg.Keys)
	if err != nil {
		return err
	}
	vault, err := keys.Vault()
	if err != nil {
		return err
	}
	issuer, err := auth.NewIssuer(keys.TokenKey)
	if err != nil {
		return err
	}
	store := dynamo.New(lambdaapp.DynamoDB(awsCfg, cfg.AWS), dynamo.Tables{Reports: cfg.ReportsTable})
	mux := http.NewServeMux()
	httpapi.ReportsAPI{
		Reader: &report.Reader{Store: store, Vault: vault},
		Staff:  httpapi.Staff{Issuer: issuer, Now: time.Now},
	}.Register(mux)
	lambdaapp.ServeHTTP(mux)
	return nil
}
