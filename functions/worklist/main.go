// Command worklist is the door-knocking Lambda: the district's lists,
// their reconciliation into verification tasks (queued for reconcilework,
// which runs it), and the tasks' visits.
package main

import (
	"context"
	"net/http"
	"time"

	"gridcode/shared/httpapi"
	"gridcode/shared/lambdaapp"
	"gridcode/shared/retention"
	"gridcode/shared/store/dynamo"
	"gridcode/shared/worklist/sqsjobs"
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
	ReconcileQueueURL    string        `env:"RECONCILE_QUEUE_URL, required"`
	SQSEndpoint          string        `env:"SQS_ENDPOINT"` // a local SQS in tests
	SettingsTTL          time.Duration `env:"SETTINGS_TTL, default=30s"`
	// RetentionDays: a task and its visits are kept this long after its
	// last visit or due day (worklist.TaskExpiresAt; retention.Days).
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
		Lists: cfg.ListsTable, ListChunks: cfg.ListChunksTable, Tasks: cfg.TasksTable,
		Reconciliations: cfg.ReconciliationsTable, Registry: cfg.RegistryTable, RegistryIndex: cfg.RegistryIndexTable,
		Audit: cfg.AuditTable, Grids: cfg.GridsTable, Rules: cfg.RulesTable,
	})
	settings, err := lambdaapp.Settings(store, cfg.SettingsTTL)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	jobs := sqsjobs.New(rt.AWS, cfg.SQSEndpoint, cfg.ReconcileQueueURL)
	httpapi.NewWorklistAPI(store, settings, vault, time.Now, staff, jobs).WithRetention(keep).Register(mux)
	lambdaapp.ServeHTTP(mux)
	return nil
}
