// Command registry is the population registry's Lambda: search for grid
// workers and the district office, and the imports' progress and refused
// rows (the import itself is functions/registryimport, started by S3).
package main

import (
	"context"
	"net/http"
	"time"

	"gridcode/shared/gridwork"
	"gridcode/shared/httpapi"
	"gridcode/shared/lambdaapp"
	"gridcode/shared/store/dynamo"
)

type config struct {
	Common             lambdaapp.Common
	RegistryTable      string        `env:"REGISTRY_TABLE, required"`
	RegistryIndexTable string        `env:"REGISTRY_INDEX_TABLE, required"`
	ImportsTable       string        `env:"IMPORTS_TABLE, required"`
	ImportErrorsTable  string        `env:"IMPORT_ERRORS_TABLE, required"`
	AuditTable         string        `env:"AUDIT_TABLE, required"`
	GridsTable         string        `env:"GRIDS_TABLE, required"`
	RulesTable         string        `env:"RULES_TABLE, required"`
	SearchScope        string        `env:"SEARCH_SCOPE, default=community"` // community or town
	SettingsTTL        time.Duration `env:"SETTINGS_TTL, default=30s"`
}

func main() { lambdaapp.Main(realMain) }

func realMain(ctx context.Context) error {
	var cfg config
	rt, err := lambdaapp.Init(ctx, &cfg, &cfg.Common)
	if err != nil {
		return err
	}
	if err := gridwork.CheckScope(cfg.SearchScope); err != nil {
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
		Registry: cfg.RegistryTable, RegistryIndex: cfg.RegistryIndexTable, Imports: cfg.ImportsTable,
		ImportErrors: cfg.ImportErrorsTable, Audit: cfg.AuditTable, Grids: cfg.GridsTable, Rules: cfg.RulesTable,
	})
	settings, err := lambdaapp.Settings(store, cfg.SettingsTTL)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	httpapi.NewRegistryAPI(store, settings, vault, time.Now, cfg.SearchScope, staff).Register(mux)
	lambdaapp.ServeHTTP(mux)
	return nil
}
