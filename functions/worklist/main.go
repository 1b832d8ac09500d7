// Command worklist is the door-knocking Lambda: the district's lists,
// their reconciliation into verification tasks, and the tasks' visits.
package main

import (
	"context"
	"net/http"
	"time"

	"gridcode/shared/httpapi"
	"gridcode/shared/lambdaapp"
	"gridcode/shared/store/dynamo"
)

type config struct {
	Common               lambdaapp.Common
	ListsTable           string        `env:"LISTS_TABLE, required"`
	ListChunksTable      string        `env:"LIST_CHUNKS_TABLE, required"`
	TasksTable           string        `env:"TASKS_TABLE, required"`
	ReconciliationsTable string        `env:"RECONCILIATIONS_TABLE, required"`
	RegistryTable        string        `env:"REGISTRY_TABLE, required"`
	RegistryIndexTable   string        `env:"REGISTRY_INDEX_TABLE, required"`
	AuditTable           string        `env:"AUDIT_TABLE, required"`
	GridsTable           string        `env:"GRIDS_TABLE, required"`
	RulesTable           string        `env:"RULES_TABLE, required"`
	SettingsTTL          time.Duration `env:"SETTINGS_TTL, default=30s"`
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
	store := dynamo.New(rt.DynamoDB(cfg.Common.AWS), dynamo.Tables{
		Lists: cfg.ListsTable, ListChunks: cfg.ListChunksTable, Tasks: cfg.TasksTable,
		Reconciliations: cfg.ReconciliationsTable, Registry: cfg.RegistryTable, RegistryIndex: cfg.RegistryIndexTable,
		Audit: cfg.AuditTable, Grids: cfg.GridsTable, Rules: cfg.RulesTable,
	})
	settings, err := lambdaapp.Settings(store, cfg.SettingsTTL)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	httpapi.NewWorklistAPI(store, settings, vault, time.Now, staff).Register(mux)
	lambdaapp.ServeHTTP(mux)
	return nil
}
