// Command health takes the provincial health feed: POST /v1/health/updates.
// A change to a yellow or red code queues, in the same transaction, the
// SMS to the person's group administrators and grid workers.
package main

import (
	"context"
	"net/http"
	"time"

	"gridcode/shared/area"
	"gridcode/shared/district"
	"gridcode/shared/healthfeed"
	"gridcode/shared/httpapi"
	"gridcode/shared/lambdaapp"
	"gridcode/shared/store/dynamo"
)

type config struct {
	Common        lambdaapp.Common
	HealthTable   string        `env:"HEALTH_TABLE, required"`
	GroupsTable   string        `env:"GROUPS_TABLE, required"`
	MembersTable  string        `env:"MEMBERS_TABLE, required"`
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
	issuer, err := rt.Issuer()
	if err != nil {
		return err
	}
	areas, err := area.Load()
	if err != nil {
		return err
	}
	store := dynamo.New(rt.DynamoDB(cfg.Common.AWS), dynamo.Tables{
		Health: cfg.HealthTable, Groups: cfg.GroupsTable, Members: cfg.MembersTable, Alerts: cfg.AlertsTable,
		Grids: cfg.GridsTable, Rules: cfg.RulesTable,
	})
	mux := http.NewServeMux()
	httpapi.HealthAPI{
		Feed: &healthfeed.Feed{
			Store: store, Groups: store, Vault: vault, Now: time.Now,
			Grids:     district.NewSettings(store, areas, time.Now, cfg.SettingsTTL),
			Retention: time.Duration(cfg.RetentionDays) * 24 * time.Hour,
		},
		Staff: httpapi.Staff{Issuer: issuer, Now: time.Now},
	}.Register(mux)
	lambdaapp.ServeHTTP(mux)
	return nil
}
