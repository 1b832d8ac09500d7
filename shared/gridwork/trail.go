package gridwork

import (
	"context"
	"time"

	"gridcode/shared/audit"
	"gridcode/shared/auth"
	"gridcode/shared/fields"
	"gridcode/shared/idcard"
	"gridcode/shared/pii"
	"gridcode/shared/report"
)

// Trail reads the audit log for the district office: everything done to
// one person, or everything one staff member did, or both.
type Trail struct {
	Log   audit.Log
	Vault *pii.Vault
	Now   func() time.Time
}

// TrailQuery names whom to look up. Person is the person's document
// number (of IDType, a resident ID by default), or their person key as
// other answers give it; Actor a token's subject.
type TrailQuery struct {
	Person, IDType, Actor string
}

// Find lists the records that match every name given, oldest first.
func (tr Trail) Find(ctx context.Context, c Caller, q TrailQuery) ([]audit.Record, error) {
	if !c.IsDistrictAdmin() {
		return nil, auth.ErrForbidden
	}
	var problems fields.Collector
	kind, ok := idcard.ParseKind(q.IDType)
	if !ok {
		problems.Add("idType", "unknown")
	}
	if q.Person == "" && q.Actor == "" {
		problems.Add("person", "required")
	}
	if err := problems.Err("invalid_query"); err != nil {
		return nil, err
	}
	personKey := q.Person
	if number, reason := idcard.Check(kind, q.Person, tr.Now()); q.Person != "" && reason == "" {
		personKey = report.PersonLookup(tr.Vault, kind, number)
	}
	if personKey == "" {
		return tr.Log.ByActor(ctx, q.Actor)
	}
	records, err := tr.Log.ByPerson(ctx, personKey)
	if err != nil || q.Actor == "" {
		return records, err
	}
	mine := records[:0]
	for _, r := range records {
		if r.Actor == q.Actor {
			mine = append(mine, r)
		}
	}
	return mine, nil
}
