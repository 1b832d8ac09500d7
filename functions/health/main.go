// Command health takes the provincial health feed: POST /v1/health/updates.
// A change to a yellow or red code queues, in the same transaction, the
// SMS to the person's group administrators and grid workers.
package main

import (
	"context"
	"net/http"
	"time"

	"gridcode/shared/healthfeed"
	"gridcode/shared/httpapi"
	"gridcode/shared/lambdaapp"
	"gridcode/shared/retention"
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
	RegistryTable string        `env:"REGISTRY_TABLE, required"`
	RetentionDays int           `env:"RETENTION_DAYS, default=28"` // of the alerts; retention.Days
	SettingsTTL   time.Duration `env:"SETTINGS_TTL, default=30s"`
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
		Health: cfg.HealthTable, Groups: cfg.GroupsTable, Members: cfg.MembersTable, Alerts: cfg.AlertsTable,
		Grids: cfg.GridsTable, Rules: cfg.RulesTable, Registry: cfg.RegistryTable,
	})
	settings, err := lambdaapp.Settings(store, cfg.SettingsTTL)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	httpapi.HealthAPI{
		Feed: &healthfeed.Feed{
			Store: store, Groups: store, Homes: store, Grids: settings, Vault: vault, Now: time.Now,
			Retention: keep,
		},
		Staff: staff,
	}.Register(mux)
	lambdaapp.ServeHTTP(mux)
	return nil
}
