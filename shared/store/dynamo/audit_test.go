package dynamo

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"gridcode/shared/audit"
	"gridcode/shared/store/storetest"
)

func TestAuditContract(t *testing.T) {
	storetest.RunAudit(t, func(t *testing.T) storetest.AuditStore {
		client, tables := freshWorkTables(t)
		return New(client, tables)
	})
}

// TestAuditAppendRetried appends the same record twice, as an SDK retry
// after a lost answer does: the second is no error and stores nothing
// more; another record under the id is ErrAuditExists.
func TestAuditAppendRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, tables := freshWorkTables(t)
	s := New(client, tables)
	r := audit.Record{ID: "a1", At: time.Date(2022, 12, 3, 1, 2, 3, 4, time.UTC), Actor: "w1", Role: "grid_worker",
		Action: "task.visit", PersonKey: "p1", ExpiresAt: time.Now().Add(time.Hour).Unix()}
	if err := s.Append(ctx, []audit.Record{r}); err != nil {
		t.Fatal(err)
	}
	again := r
	again.At = r.At.In(time.FixedZone("CST", 8*3600)) // the same instant
	if err := s.Append(ctx, []audit.Record{again}); err != nil {
		t.Fatalf("Append of the same record again = %v", err)
	}
	other := r
	other.Action = "registry.search_result"
	if err := s.Append(ctx, []audit.Record{other}); !errors.Is(err, ErrAuditExists) {
		t.Fatalf("Append of another record under the id = %v, want ErrAuditExists", err)
	}
	got, err := s.ByPerson(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]audit.Record{r}, got); diff != "" {
		t.Errorf("ByPerson (-want +got):\n%s", diff)
	}
	if err := s.Append(ctx, []audit.Record{{ID: "a2"}}); err == nil {
		t.Error("Append of a record without a person key = nil error")
	}
}
