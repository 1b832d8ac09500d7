// Command groups is the group code's Lambda: registration, the roster and
// self-joins, the QR code and the daily list with its CSV/XLSX exports.
package main

import (
	"context"
	"net/http"
	"time"

	"gridcode/shared/gridwork"
	"gridcode/shared/group"
	"gridcode/shared/httpapi"
	"gridcode/shared/lambdaapp"
	"gridcode/shared/ratelimit"
	"gridcode/shared/store/dynamo"
)

type config struct {
	Common          lambdaapp.Common
	GroupsTable     string        `env:"GROUPS_TABLE, required"`
	MembersTable    string        `env:"MEMBERS_TABLE, required"`
	DailyListsTable string        `env:"DAILY_LISTS_TABLE, required"`
	GridsTable      string        `env:"GRIDS_TABLE, required"`
	RulesTable      string        `env:"RULES_TABLE, required"`
	AuditTable      string        `env:"AUDIT_TABLE, required"` // who saw a roster or a daily list
	JoinURL         string        `env:"JOIN_URL, required"`    // the self-join page; the group id is appended
	SettingsTTL     time.Duration `env:"SETTINGS_TTL, default=30s"`
	// The self-join's abuse limits, counted in RATE_LIMITS_TABLE by every
	// instance together: LIMIT/WINDOW (30/1m) or off.
	RateLimitsTable string         `env:"RATE_LIMITS_TABLE, required"`
	JoinsPerAddress ratelimit.Rule `env:"JOINS_PER_ADDRESS, default=30/1m"`
	JoinsPerPerson  ratelimit.Rule `env:"JOINS_PER_PERSON, default=10/1h"`
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
	db := rt.DynamoDB(cfg.Common.AWS)
	store := dynamo.New(db, dynamo.Tables{
		Groups: cfg.GroupsTable, Members: cfg.MembersTable, DailyLists: cfg.DailyListsTable,
		Grids: cfg.GridsTable, Rules: cfg.RulesTable, Audit: cfg.AuditTable,
	})
	settings, err := lambdaapp.Settings(store, cfg.SettingsTTL)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	httpapi.GroupsAPI{
		Registry: &group.Registry{
			Store: store, Lists: store, Grids: settings, Vault: vault, Now: time.Now, JoinURL: cfg.JoinURL,
			Gate: httpapi.Limit{Keyed: ratelimit.NewCounters(db, cfg.RateLimitsTable, "joins-per-person", cfg.JoinsPerPerson)},
		},
		JoinsPerAddress: httpapi.Limit{Keyed: ratelimit.NewCounters(db, cfg.RateLimitsTable, "joins-per-address", cfg.JoinsPerAddress)},
		Audit:           gridwork.Auditor{Log: store, Now: time.Now},
		Staff:           staff,
	}.Register(mux)
	lambdaapp.ServeHTTP(mux)
	return nil
}
