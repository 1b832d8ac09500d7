package embedded

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"gridcode/shared/alert"
	"gridcode/shared/group"
	"gridcode/shared/health"
	"gridcode/shared/store/storetest"
)

func TestGroupContract(t *testing.T) {
	storetest.RunGroups(t, func(t *testing.T) storetest.GroupStore { return openTemp(t) })
}

func testAlert(id string, at time.Time) alert.Alert {
	return alert.Alert{
		ID: id, Template: "GC_TEST", RecipientLookup: "ph", RecipientSealed: []byte{1},
		Status: alert.Pending, CreatedAt: at, ExpiresAt: at.Add(time.Hour).Unix(),
	}
}

// The SMS fan-out finds alerts through the due index: the alerts of
// health writes and daily lists must be in it, as a report's are.
func TestGroupAlertsAreDue(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	now := time.Now().UTC()
	conflicts, err := s.WriteHealth(ctx, []health.Write{{
		Record: health.Record{PersonKey: "p1", UpdatedAt: now, Sealed: []byte{1}},
		Alerts: []alert.Alert{testAlert("health.1", now.Add(-2*time.Second)), testAlert("health.2", now.Add(-time.Second))},
	}})
	if err != nil || len(conflicts) != 0 {
		t.Fatalf("WriteHealth = %v, %v", conflicts, err)
	}
	created, err := s.PutDailyList(ctx, group.DailyList{GroupID: "G1", Date: "2022-12-03", ComputedAt: now},
		[]alert.Alert{testAlert("daily.1", now)})
	if err != nil || !created {
		t.Fatalf("PutDailyList = %v, %v", created, err)
	}
	due, err := s.Due(ctx, now.Add(time.Second), 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range due {
		ids = append(ids, a.ID)
	}
	if want := []string{"health.1", "health.2", "daily.1"}; !slices.Equal(ids, want) {
		t.Errorf("due = %v, want %v", ids, want)
	}
}

// bucketKeys lists a bucket's keys.
func bucketKeys(t *testing.T, s *Store, bucket []byte) []string {
	t.Helper()
	var keys []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, _ []byte) error {
			keys = append(keys, string(k))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestReplaceRosterLeavesNoOldRows(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	if _, _, err := s.CreateGroup(ctx, group.Group{ID: "G1", GridCode: "g1"}); err != nil {
		t.Fatal(err)
	}
	member := func(p string) group.Member { return group.Member{GroupID: "G1", PersonKey: p, Status: group.Active} }
	if _, err := s.ReplaceRoster(ctx, "G1", 0, []group.Member{member("a"), member("b")}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutJoinRequest(ctx, group.Member{GroupID: "G1", PersonKey: "c", Status: group.Pending}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApproveJoin(ctx, "G1", "c", 1); err != nil {
		t.Fatal(err)
	}
	g, err := s.ReplaceRoster(ctx, "G1", 1, []group.Member{member("b"), member("d"), member("d")})
	if err != nil {
		t.Fatal(err)
	}
	if g.Members != 2 {
		t.Errorf("a person listed twice counts %d members, want 2", g.Members)
	}
	if got, want := bucketKeys(t, s, bucketMembers), []string{"G1\x0000000002\x00b", "G1\x0000000002\x00d"}; !slices.Equal(got, want) {
		t.Errorf("member rows = %q, want %q", got, want)
	}
	if got, want := bucketKeys(t, s, bucketMembersByPerson), []string{"b\x00G1", "d\x00G1"}; !slices.Equal(got, want) {
		t.Errorf("person index = %q, want %q", got, want)
	}
	if got := bucketKeys(t, s, bucketJoinRequests); len(got) != 0 {
		t.Errorf("join requests left: %q", got)
	}
}

func TestHealthSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/gridcode.db"
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2022, 12, 3, 1, 2, 3, 456789123, time.FixedZone("CST", 8*3600))
	if _, err := s.WriteHealth(ctx, []health.Write{{Record: health.Record{PersonKey: "p", UpdatedAt: at, Sealed: []byte("x")}}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.GetHealth(ctx, []string{"p"})
	if err != nil {
		t.Fatal(err)
	}
	r := got["p"]
	if !r.UpdatedAt.Equal(at) || r.UpdatedAt.Location() != time.UTC || string(r.Sealed) != "x" {
		t.Errorf("record after reopen = %+v", r)
	}
	conflicts, err := s.WriteHealth(ctx, []health.Write{{Record: health.Record{PersonKey: "p", UpdatedAt: at.Add(time.Second)}, Prev: &at}})
	if err != nil || len(conflicts) != 0 {
		t.Errorf("write from the stored instant in another zone = %v, %v", conflicts, err)
	}
}

// BenchmarkWriteHealth1000 is one feed batch: 1000 writes, one fsync.
func BenchmarkWriteHealth1000(b *testing.B) {
	ctx := context.Background()
	s, err := Open(b.TempDir() + "/gridcode.db")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sealed := make([]byte, 120)
	at := time.Now().UTC()
	writes := make([]health.Write, 1000)
	for i := range writes {
		writes[i].Record = health.Record{PersonKey: fmt.Sprintf("person-%06d", i), Sealed: sealed}
	}
	var prev *time.Time
	for b.Loop() {
		next := at.Add(time.Second)
		for i := range writes {
			writes[i].Record.UpdatedAt, writes[i].Prev = next, prev
		}
		conflicts, err := s.WriteHealth(ctx, writes)
		if err != nil || len(conflicts) != 0 {
			b.Fatalf("WriteHealth = %d conflicts, %v", len(conflicts), err)
		}
		at, prev = next, &next
	}
}

// BenchmarkRefreshRead is what the daily refresh reads of one full group:
// its roster and its members' health records.
func BenchmarkRefreshRead(b *testing.B) {
	ctx := context.Background()
	s, err := Open(b.TempDir()+"/gridcode.db", WithoutFsync())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.CreateGroup(ctx, group.Group{ID: "G1", GridCode: "g1"}); err != nil {
		b.Fatal(err)
	}
	at := time.Now().UTC()
	members := make([]group.Member, group.MaxRoster)
	writes := make([]health.Write, group.MaxRoster)
	for i := range members {
		p := fmt.Sprintf("person-%06d", i)
		members[i] = group.Member{PersonKey: p, Status: group.Active, IDType: "resident_id", Sealed: make([]byte, 100), JoinedAt: at}
		writes[i].Record = health.Record{PersonKey: p, UpdatedAt: at, Sealed: make([]byte, 120)}
	}
	if _, err := s.ReplaceRoster(ctx, "G1", 0, members); err != nil {
		b.Fatal(err)
	}
	if _, err := s.WriteHealth(ctx, writes); err != nil {
		b.Fatal(err)
	}
	keys := make([]string, group.MaxRoster)
	for b.Loop() {
		ms, err := s.Members(ctx, "G1", 1)
		if err != nil {
			b.Fatal(err)
		}
		for i, m := range ms {
			keys[i] = m.PersonKey
		}
		recs, err := s.GetHealth(ctx, keys)
		if err != nil || len(recs) != group.MaxRoster {
			b.Fatalf("GetHealth = %d records, %v", len(recs), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/group.MaxRoster, "ns/member")
}
