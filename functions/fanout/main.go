// Command fanout is the alert fan-out Lambda: the alerts table's DynamoDB
// stream delivers each new alert by SMS within seconds, and a schedule
// sweeps up retries and the claims of senders that died.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"gridcode/shared/alert"
	"gridcode/shared/fanout"
	"gridcode/shared/lambdaapp"
	"gridcode/shared/ratelimit"
	"gridcode/shared/sms/snssms"
	"gridcode/shared/store/dynamo"
)

type config struct {
	Common          lambdaapp.Common
	AlertsTable     string `env:"ALERTS_TABLE, required"`
	ReportsTable    string `env:"REPORTS_TABLE, required"` // a failed report SMS marks the report for a phone call
	SendBudgetTable string `env:"SEND_BUDGET_TABLE, required"`
	SMSPerSecond    int    `env:"SMS_PER_SECOND, default=20"`
	SweepLimit      int    `env:"SWEEP_LIMIT, default=500"`
	Workers         int    `env:"WORKERS, default=8"`
}

func main() { lambdaapp.Main(realMain) }

func realMain(ctx context.Context) error {
	var cfg config
	rt, err := lambdaapp.Init(ctx, &cfg, &cfg.Common)
	if err != nil {
		return err
	}
	// 0 would mean no budget at all: in the cloud that is a mistake.
	for name, v := range map[string]int{"SMS_PER_SECOND": cfg.SMSPerSecond, "SWEEP_LIMIT": cfg.SweepLimit, "WORKERS": cfg.Workers} {
		if v < 1 {
			return fmt.Errorf("config: %s must be at least 1, got %d", name, v)
		}
	}
	vault, err := rt.Vault()
	if err != nil {
		return err
	}
	db := rt.DynamoDB(cfg.Common.AWS)
	// One attempt per Publish: the dispatcher retries with backoff from the
	// ledger, inside the send budget. An SDK retry would spend slots the
	// limiter never handed out, and a retry after a lost reply would text
	// the person twice.
	snsClient := sns.NewFromConfig(rt.AWS, func(o *sns.Options) {
		o.RetryMaxAttempts = 1
		if cfg.Common.AWS.SNSEndpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Common.AWS.SNSEndpoint)
		}
	})
	store := dynamo.New(db, dynamo.Tables{Reports: cfg.ReportsTable, Alerts: cfg.AlertsTable})
	dispatcher := &alert.Dispatcher{
		Ledger:   store,
		Vault:    vault,
		Provider: snssms.New(snsClient),
		Limiter:  ratelimit.NewShared(db, cfg.SendBudgetTable, cfg.SMSPerSecond, time.Now),
		Now:      time.Now,
		Workers:  cfg.Workers,
	}
	lambda.Start(fanout.Handler{Dispatcher: dispatcher, SweepLimit: cfg.SweepLimit, Workers: cfg.Workers}.Handle)
	return nil
}
