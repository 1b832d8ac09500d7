// Package gridwork is what grid workers and the district office do with
// the registry, the verification tasks and the reports' follow-ups: it
// decides who may see and change what, masks personal data for the caller,
// and leaves an audit record for every person shown.
package gridwork

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"gridcode/shared/audit"
	"gridcode/shared/auth"
	"gridcode/shared/grid"
)

// Grids gives the district's current grids.
type Grids interface {
	Grids(ctx context.Context) (*grid.Directory, error)
}

// AuditRetention keeps audit records for half a year.
const AuditRetention = 183 * 24 * time.Hour

// Caller is who asks, and from where (the client address, for the audit).
type Caller struct {
	auth.Principal
	From string
}

// requireGridWork refuses, before anything is read, the roles that do no
// grid work: only the district office and grid workers search the
// registry, knock on doors and follow reports up. Checking the role first
// keeps a group administrator or the health feed from telling a missing
// report or task (404) from another grid's (403).
func requireGridWork(c Caller) error {
	switch c.Role {
	case auth.DistrictAdmin, auth.GridWorker:
		return nil
	}
	return auth.ErrForbidden
}

// Auditor writes one audit record per person shown.
type Auditor struct {
	Log audit.Log
	Now func() time.Time
}

// Record appends one record per person key: c did action to them now. An
// empty key (a record from before keys were kept) names no one.
func (a Auditor) Record(ctx context.Context, c Caller, action string, personKeys ...string) error {
	now := a.Now().UTC()
	recs := make([]audit.Record, 0, len(personKeys))
	for _, k := range personKeys {
		if k == "" {
			continue
		}
		recs = append(recs, audit.Record{
			ID: auditID(now), At: now, Actor: c.Subject, Role: string(c.Role), Action: action,
			PersonKey: k, From: c.From, ExpiresAt: now.Add(AuditRetention).Unix(),
		})
	}
	if len(recs) == 0 {
		return nil
	}
	if err := a.Log.Append(ctx, recs); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// auditID sorts by time, then is unique by its random tail.
func auditID(now time.Time) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return now.Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(b[:])
}
