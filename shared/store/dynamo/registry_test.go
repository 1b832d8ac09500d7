package dynamo

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"gridcode/infra/dynamolocal"
	"gridcode/shared/registry"
	"gridcode/shared/store/storetest"
)

// freshWorkTables creates the reports and alerts tables and the grid
// work's tables, with names of their own, for one test.
func freshWorkTables(t *testing.T) (*dynamodb.Client, Tables) {
	t.Helper()
	client := dynamolocal.Client(t)
	n := tableSeq.Add(1)
	name := func(s string) string { return fmt.Sprintf("t%d-%s", n, s) }
	tables := Tables{
		Reports: name("reports"), Alerts: name("alerts"), Grids: name("grids"), Rules: name("rules"), DailyCounts: name("daily-counts"),
		Registry: name("registry"), RegistryIndex: name("registry-index"), Imports: name("imports"),
		ImportErrors: name("import-errors"), Lists: name("lists"), ListChunks: name("list-chunks"),
		Tasks: name("tasks"), Reconciliations: name("reconciliations"), Audit: name("audit"),
	}
	if err := CreateTables(context.Background(), client, tables); err != nil {
		t.Fatal(err)
	}
	return client, tables
}

func TestRegistryContract(t *testing.T) {
	storetest.RunRegistry(t, func(t *testing.T) storetest.RegistryStore {
		client, tables := freshWorkTables(t)
		return New(client, tables)
	})
}

// scanStrings reads one string attribute of every item of a table.
func scanStrings(t *testing.T, c *dynamodb.Client, table string, attrs ...string) []string {
	t.Helper()
	var out []string
	p := dynamodb.NewScanPaginator(c, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Items {
			var parts []string
			for _, a := range attrs {
				switch v := item[a].(type) {
				case *types.AttributeValueMemberS:
					parts = append(parts, v.Value)
				case *types.AttributeValueMemberN:
					parts = append(parts, v.Value)
				default:
					parts = append(parts, "-")
				}
			}
			out = append(out, strings.Join(parts, " "))
		}
	}
	slices.Sort(out)
	return out
}

func regPerson(key, community, hash string, tokens ...string) registry.Person {
	return registry.Person{Key: key, GridCode: "g-" + community, Community: community, ContentHash: hash, Tokens: tokens, Sealed: []byte{1}}
}

// TestPutPeopleIndexItems checks the index holds exactly one item per
// token of each person, under the person's community, and nothing of
// tokens or communities a person left.
func TestPutPeopleIndexItems(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, tables := freshWorkTables(t)
	s := New(client, tables)
	steps := []struct {
		name   string
		people []registry.Person
		want   []string
	}{
		{"new people, a token twice", []registry.Person{
			regPerson("p1", "c1", "h1", "a", "b", "a"),
			regPerson("p2", "c1", "h2", "a"),
		}, []string{"a c1#p1", "a c1#p2", "b c1#p1"}},
		{"a token dropped and one added", []registry.Person{regPerson("p1", "c1", "h1b", "b", "c")},
			[]string{"a c1#p2", "b c1#p1", "c c1#p1"}},
		{"a move to another community", []registry.Person{regPerson("p1", "c2", "h1c", "b", "c")},
			[]string{"a c1#p2", "b c2#p1", "c c2#p1"}},
		{"the last entry of a person wins", []registry.Person{regPerson("p2", "c1", "h2b", "x"), regPerson("p2", "c3", "h2c", "y")},
			[]string{"b c2#p1", "c c2#p1", "y c3#p2"}},
		{"no tokens", []registry.Person{regPerson("p1", "c2", "h1d")}, []string{"y c3#p2"}},
	}
	for _, step := range steps {
		if _, err := s.PutPeople(ctx, step.people); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if diff := cmp.Diff(step.want, scanStrings(t, client, tables.RegistryIndex, "token", "communityPerson")); diff != "" {
			t.Errorf("%s: index items (-want +got):\n%s", step.name, diff)
		}
	}
	got, err := s.GetPeople(ctx, []string{"p2"})
	if err != nil {
		t.Fatal(err)
	}
	if got["p2"].ContentHash != "h2c" {
		t.Errorf("p2 after two entries in one call: hash %q, want h2c", got["p2"].ContentHash)
	}
}

// TestPutPeopleIndexBeforePerson checks that a call whose index writes
// fail leaves the stored person as it was, so the next import of the same
// rows writes the index again.
func TestPutPeopleIndexBeforePerson(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, tables := freshWorkTables(t)
	failing := &failingWrites{Client: client, table: tables.RegistryIndex}
	s := New(failing, tables)
	if _, err := s.PutPeople(ctx, []registry.Person{regPerson("p1", "c1", "h1", "a")}); err == nil {
		t.Fatal("PutPeople with a failing index = nil error")
	}
	if got, err := s.GetPeople(ctx, []string{"p1"}); err != nil || len(got) != 0 {
		t.Fatalf("after a failed index write the person is stored: %v, %v", got, err)
	}
	failing.table = ""
	if n, err := s.PutPeople(ctx, []registry.Person{regPerson("p1", "c1", "h1", "a")}); err != nil || n != 1 {
		t.Fatalf("PutPeople again = %d, %v; want 1", n, err)
	}
	if diff := cmp.Diff([]string{"a c1#p1"}, scanStrings(t, client, tables.RegistryIndex, "token", "communityPerson")); diff != "" {
		t.Errorf("index items (-want +got):\n%s", diff)
	}
}

// failingWrites fails every BatchWriteItem into one table.
type failingWrites struct {
	*dynamodb.Client
	table string
}

func (f *failingWrites) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	if _, ok := in.RequestItems[f.table]; ok {
		return nil, fmt.Errorf("injected failure writing %s", f.table)
	}
	return f.Client.BatchWriteItem(ctx, in, opts...)
}

func TestAppendIndexChanges(t *testing.T) {
	t.Parallel()
	describe := func(reqs []types.WriteRequest) []string {
		var out []string
		for _, r := range reqs {
			op, key := "put", map[string]types.AttributeValue(nil)
			if r.PutRequest != nil {
				key = r.PutRequest.Item
			} else {
				op, key = "delete", r.DeleteRequest.Key
			}
			out = append(out, op+" "+key["token"].(*types.AttributeValueMemberS).Value+" "+key["communityPerson"].(*types.AttributeValueMemberS).Value)
		}
		slices.Sort(out)
		return out
	}
	old := storedPerson{Key: "p", Community: "c", Tokens: []string{"a", "b"}}
	cases := []struct {
		name string
		old  storedPerson
		p    registry.Person
		want []string
	}{
		{"new", storedPerson{}, regPerson("p", "c", "h", "a", "b"), []string{"put a c#p", "put b c#p"}},
		{"same tokens", old, regPerson("p", "c", "h", "b", "a"), nil},
		{"one token changed", old, regPerson("p", "c", "h", "a", "x"), []string{"delete b c#p", "put x c#p"}},
		{"another community", old, regPerson("p", "d", "h", "a"), []string{"delete a c#p", "delete b c#p", "put a d#p"}},
		{"duplicate tokens", storedPerson{}, regPerson("p", "c", "h", "a", "a"), []string{"put a c#p"}},
		{"every token dropped", old, regPerson("p", "c", "h"), []string{"delete a c#p", "delete b c#p"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(c.want, describe(appendIndexChanges(nil, c.old, c.p))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitRowErrors(t *testing.T) {
	t.Parallel()
	errs := func(n int, field string) []registry.RowError {
		out := make([]registry.RowError, n)
		for i := range out {
			out[i] = registry.RowError{Line: 2 + i, Field: field, Reason: "invalid"}
		}
		return out
	}
	long := strings.Repeat("f", 1000)
	cases := []struct {
		name      string
		errs      []registry.RowError
		wantParts int
	}{
		{"none", nil, 0},
		{"one", errs(1, "name"), 1},
		{"a 5,000-row chunk", errs(5000, "landlordPhone"), 1},
		{"long field names", errs(1000, long), 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			parts := splitRowErrors(c.errs)
			if len(parts) != c.wantParts {
				t.Errorf("%d parts, want %d", len(parts), c.wantParts)
			}
			if diff := cmp.Diff(c.errs, slices.Concat(parts...)); diff != "" {
				t.Errorf("parts joined (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRowErrorsOverOneItem stores a chunk whose errors need several
// items, then redoes it with fewer: the items beyond go.
func TestRowErrorsOverOneItem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, tables := freshWorkTables(t)
	s := New(client, tables)
	long := strings.Repeat("列", 300) // a column named at length: 900 bytes
	errs := make([]registry.RowError, 1000)
	for i := range errs {
		errs[i] = registry.RowError{Line: 1001 + i, Field: long, Reason: "invalid"}
	}
	next := []registry.RowError{{Line: 2001, Field: "name", Reason: "required"}}
	if err := s.PutRowErrors(ctx, "imp", 2001, next); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRowErrors(ctx, "imp", 1001, errs); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"1001 1001 3", "1002 1001 3", "1003 1001 3", "2001 2001 1"},
		scanStrings(t, client, tables.ImportErrors, "firstLine", "chunk", "parts")); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	got, err := s.RowErrors(ctx, "imp")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(append(slices.Clone(errs), next...), got); diff != "" {
		t.Errorf("row errors (-want +got):\n%s", diff)
	}

	if err := s.PutRowErrors(ctx, "imp", 1001, errs[:400]); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"1001 1001 2", "1002 1001 2", "2001 2001 1"},
		scanStrings(t, client, tables.ImportErrors, "firstLine", "chunk", "parts")); diff != "" {
		t.Errorf("items after the redo (-want +got):\n%s", diff)
	}
	got, err = s.RowErrors(ctx, "imp")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(append(slices.Clone(errs[:400]), next...), got); diff != "" {
		t.Errorf("row errors after the redo (-want +got):\n%s", diff)
	}
	// Every item expires.
	for _, e := range scanStrings(t, client, tables.ImportErrors, TTLAttribute) {
		if at, err := strconv.ParseInt(e, 10, 64); err != nil || at < time.Now().Unix() {
			t.Errorf("an item expires at %q", e)
		}
	}
}

// TestRowErrorsRefuseMoreItemsThanLines checks the one case the keys of a
// chunk's items could reach the next chunk's: refused, not overwritten.
func TestRowErrorsRefuseMoreItemsThanLines(t *testing.T) {
	t.Parallel()
	client, tables := freshWorkTables(t)
	s := New(client, tables)
	long := strings.Repeat("x", 100_000)
	errs := []registry.RowError{{Line: 5, Field: long, Reason: "a"}, {Line: 5, Field: long, Reason: "b"},
		{Line: 5, Field: long, Reason: "c"}, {Line: 5, Field: long, Reason: "d"}}
	if err := s.PutRowErrors(context.Background(), "imp", 5, errs); err == nil {
		t.Fatal("PutRowErrors of 2 items for one line = nil error")
	}
}
