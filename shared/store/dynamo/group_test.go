package dynamo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"gridcode/infra/dynamolocal"
	"gridcode/shared/group"
	"gridcode/shared/health"
	"gridcode/shared/idcard"
	"gridcode/shared/store/storetest"
)

// freshGroupTables creates every table, with names of their own, for one
// test.
func freshGroupTables(t *testing.T) (*dynamodb.Client, Tables) {
	t.Helper()
	client := dynamolocal.Client(t)
	n := tableSeq.Add(1)
	name := func(s string) string { return fmt.Sprintf("t%d-%s", n, s) }
	tables := Tables{
		Reports: name("reports"), Alerts: name("alerts"), Grids: name("grids"), Rules: name("rules"), DailyCounts: name("daily-counts"),
		Groups: name("groups"), Members: name("members"), Health: name("health"),
		DailyLists: name("daily-lists"), RefreshRuns: name("refresh-runs"),
	}
	if err := CreateTables(context.Background(), client, tables); err != nil {
		t.Fatal(err)
	}
	return client, tables
}

func TestGroupContract(t *testing.T) {
	storetest.RunGroups(t, func(t *testing.T) storetest.GroupStore {
		client, tables := freshGroupTables(t)
		return New(client, tables)
	})
}

func TestTableSpecsSkipUnnamedTables(t *testing.T) {
	specs := TableSpecs(Tables{Reports: "r", Health: "h"})
	var names []string
	for _, s := range specs {
		names = append(names, aws.ToString(s.TableName))
	}
	if diff := cmp.Diff([]string{"r", "h"}, names); diff != "" {
		t.Errorf("tables (-want +got):\n%s", diff)
	}
	if got := TTLTables(Tables{Alerts: "a", Groups: "g", RefreshRuns: "rr"}); !slices.Equal(got, []string{"a", "rr"}) {
		t.Errorf("TTL tables = %v", got)
	}
}

// flaky wraps the client and lets a test change single calls.
type flaky struct {
	*dynamodb.Client
	updateItem   func(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	batchGetItem func(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

func (f *flaky) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if f.updateItem != nil {
		return f.updateItem(ctx, in, opts...)
	}
	return f.Client.UpdateItem(ctx, in, opts...)
}

func (f *flaky) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	if f.batchGetItem != nil {
		return f.batchGetItem(ctx, in, opts...)
	}
	return f.Client.BatchGetItem(ctx, in, opts...)
}

func testGroup(id string) group.Group {
	return group.Group{ID: id, Name: "n " + id, Kind: "school", GridCode: "g1", AdminLookup: "a", CreatedAt: time.Now().UTC().Truncate(time.Second)}
}

func testRoster(groupID, prefix string, version, n int) []group.Member {
	ms := make([]group.Member, n)
	for i := range ms {
		ms[i] = group.Member{
			GroupID: groupID, PersonKey: fmt.Sprintf("%s%04d", prefix, i), Version: version, Status: group.Active,
			IDType: idcard.ResidentID, Sealed: []byte(strings.Repeat("s", 500)), JoinedAt: time.Now().UTC().Truncate(time.Second),
		}
	}
	return ms
}

// memberItems lists the roster keys that have items in the members table.
func memberItems(t *testing.T, c *dynamodb.Client, tables Tables) map[string]int {
	t.Helper()
	out := map[string]int{}
	p := dynamodb.NewScanPaginator(c, &dynamodb.ScanInput{TableName: aws.String(tables.Members)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Items {
			out[item["rosterKey"].(*types.AttributeValueMemberS).Value]++
		}
	}
	return out
}

func personKeys(ms []group.Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.PersonKey)
	}
	return out
}

// A replacement whose flip fails leaves the old roster as it was, and
// takes its own items away again.
func TestReplaceRosterFailedFlip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, tables := freshGroupTables(t)
	api := &flaky{Client: client}
	s := New(api, tables)
	g := testGroup("GFLIP0001")
	if _, _, err := s.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	old := testRoster(g.ID, "old-", 1, 30)
	if _, err := s.ReplaceRoster(ctx, g.ID, 0, old); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		flip    func(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
		isError func(error) bool
	}{
		{
			name: "another replacement won",
			flip: func(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
				return nil, &types.ConditionalCheckFailedException{Message: aws.String("fake")}
			},
			isError: func(err error) bool { return errors.Is(err, group.ErrConflict) },
		},
		{
			name: "the call failed",
			flip: func(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
				return nil, errors.New("connection reset")
			},
			isError: func(err error) bool { return err != nil && strings.Contains(err.Error(), "connection reset") },
		},
	} {
		api.updateItem = tc.flip
		_, err := s.ReplaceRoster(ctx, g.ID, 1, testRoster(g.ID, "new-", 2, 60))
		api.updateItem = nil
		if !tc.isError(err) {
			t.Fatalf("%s: ReplaceRoster = %v", tc.name, err)
		}
		got, err := s.GetGroup(ctx, g.ID)
		if err != nil || got.RosterVersion != 1 || got.Members != 30 {
			t.Fatalf("%s: group = %+v, %v", tc.name, got, err)
		}
		ms, err := s.Members(ctx, g.ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(personKeys(old), personKeys(ms)); diff != "" {
			t.Errorf("%s: members (-old +got):\n%s", tc.name, diff)
		}
		if items := memberItems(t, client, tables); len(items) != 1 || slices.Collect(maps.Values(items))[0] != len(old) {
			t.Errorf("%s: member items by roster key = %v, want only the old roster's", tc.name, items)
		}
	}
}

// A flip whose answer was lost, so that the SDK's retry meets its own
// write, is a success.
func TestReplaceRosterFlipRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, tables := freshGroupTables(t)
	api := &flaky{Client: client}
	s := New(api, tables)
	g := testGroup("GFLIP0002")
	if _, _, err := s.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	api.updateItem = func(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
		if _, err := client.UpdateItem(ctx, in, opts...); err != nil {
			return nil, err
		}
		return client.UpdateItem(ctx, in, opts...)
	}
	roster := testRoster(g.ID, "m-", 1, 7)
	got, err := s.ReplaceRoster(ctx, g.ID, 0, roster)
	if err != nil {
		t.Fatal(err)
	}
	if got.RosterVersion != 1 || got.Members != 7 {
		t.Errorf("group = version %d, %d members", got.RosterVersion, got.Members)
	}
	ms, err := s.Members(ctx, g.ID, 1)
	if err != nil || len(ms) != 7 {
		t.Errorf("members = %d, %v; want 7", len(ms), err)
	}
}

// Duplicate people in a roster make one member each, the last entry
// winning; DynamoDB would refuse them in one batch.
func TestReplaceRosterDuplicates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, tables := freshGroupTables(t)
	s := New(client, tables)
	g := testGroup("GDUPE0001")
	if _, _, err := s.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	roster := testRoster(g.ID, "m-", 1, 3)
	last := roster[0]
	last.Sealed = []byte("last")
	roster = append(roster, roster[1], last)
	got, err := s.ReplaceRoster(ctx, g.ID, 0, roster)
	if err != nil {
		t.Fatal(err)
	}
	if got.Members != 3 {
		t.Errorf("group has %d members, want 3", got.Members)
	}
	ms, err := s.Members(ctx, g.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 || string(ms[0].Sealed) != "last" {
		t.Errorf("members = %d, first sealed %q", len(ms), ms[0].Sealed)
	}
	if _, err := s.ReplaceRoster(ctx, g.ID, 1, testRoster(g.ID, "x", 2, group.MaxRoster+1)); err == nil {
		t.Error("a roster over MaxRoster was taken")
	}
}

// GetHealth reads more keys than one BatchGetItem takes, and retries the
// keys DynamoDB leaves unprocessed.
func TestGetHealthBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, tables := freshGroupTables(t)
	api := &flaky{Client: client}
	s := New(api, tables)
	at := time.Now().UTC().Truncate(time.Microsecond)
	const n = 430
	var writes []health.Write
	var keys []string
	for i := range n {
		p := fmt.Sprintf("p%04d", i)
		keys = append(keys, p, p) // duplicates too
		if i%3 != 0 {
			writes = append(writes, health.Write{Record: health.Record{PersonKey: p, UpdatedAt: at, Sealed: []byte(p)}})
		}
	}
	if conflicts, err := s.WriteHealth(ctx, writes); err != nil || len(conflicts) != 0 {
		t.Fatalf("WriteHealth = %v, %v", conflicts, err)
	}

	var calls, withheld atomic.Int64
	api.batchGetItem = func(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
		calls.Add(1)
		ka := in.RequestItems[tables.Health]
		if len(ka.Keys) > 100 {
			return nil, fmt.Errorf("%d keys in one call", len(ka.Keys))
		}
		// Leave the second half of every larger call unprocessed.
		if len(ka.Keys) > 10 {
			half := len(ka.Keys) / 2
			withheld.Add(int64(len(ka.Keys) - half))
			rest := ka
			rest.Keys = ka.Keys[half:]
			ka.Keys = ka.Keys[:half]
			out, err := client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{tables.Health: ka}}, opts...)
			if err != nil {
				return nil, err
			}
			out.UnprocessedKeys = map[string]types.KeysAndAttributes{tables.Health: rest}
			return out, nil
		}
		return client.BatchGetItem(ctx, in, opts...)
	}
	got, err := s.GetHealth(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(writes) {
		t.Errorf("GetHealth found %d records, want %d", len(got), len(writes))
	}
	for _, w := range writes {
		if r, ok := got[w.Record.PersonKey]; !ok || string(r.Sealed) != w.Record.PersonKey || !r.UpdatedAt.Equal(at) {
			t.Errorf("record of %s = %+v, %v", w.Record.PersonKey, r, ok)
		}
	}
	if calls.Load() < 5 || withheld.Load() == 0 {
		t.Errorf("%d calls, %d keys withheld: the batching was not exercised", calls.Load(), withheld.Load())
	}
}

// A Prev in another time zone is the same instant.
func TestWriteHealthPrevZone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, tables := freshGroupTables(t)
	s := New(client, tables)
	at := time.Date(2022, 12, 3, 8, 0, 0, 120000000, time.FixedZone("CST", 8*3600))
	if c, err := s.WriteHealth(ctx, []health.Write{{Record: health.Record{PersonKey: "p", UpdatedAt: at, Sealed: []byte{1}}}}); err != nil || len(c) != 0 {
		t.Fatalf("first write = %v, %v", c, err)
	}
	read, err := s.GetHealth(ctx, []string{"p"})
	if err != nil {
		t.Fatal(err)
	}
	if !read["p"].UpdatedAt.Equal(at) {
		t.Fatalf("read back %v, want %v", read["p"].UpdatedAt, at)
	}
	c, err := s.WriteHealth(ctx, []health.Write{{Record: health.Record{PersonKey: "p", UpdatedAt: at.Add(time.Hour), Sealed: []byte{2}}, Prev: &at}})
	if err != nil || len(c) != 0 {
		t.Fatalf("second write = %v, %v", c, err)
	}
}

// Members of a version that is no longer current is ErrConflict, not an
// empty roster.
func TestMembersOfReplacedVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, tables := freshGroupTables(t)
	s := New(client, tables)
	g := testGroup("GOLDV0001")
	if _, _, err := s.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReplaceRoster(ctx, g.ID, 0, testRoster(g.ID, "m-", 1, 3)); err != nil {
		t.Fatal(err)
	}
	for _, v := range []int{0, 2} {
		if ms, err := s.Members(ctx, g.ID, v); !errors.Is(err, group.ErrConflict) {
			t.Errorf("Members v%d = %d members, %v; want ErrConflict", v, len(ms), err)
		}
	}
	if _, err := s.Members(ctx, "GNOPE0000", 0); !errors.Is(err, group.ErrNotFound) {
		t.Errorf("Members of an unknown group = %v, want ErrNotFound", err)
	}
}
