package local

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gridcode/shared/idcard"
	"gridcode/shared/registry"
)

// Importing a file again after its import ended starts a new run over
// the ended one's record: the record's version goes on, the rows are
// unchanged.
func TestImportRegistryAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sys, err := Open(ctx, t.TempDir(), func() time.Time { return testNow })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	path := filepath.Join(t.TempDir(), "石冲 人口.csv")
	id := func(first17 string) string { return first17 + string(idcard.CheckDigit(first17)) }
	file := "姓名,证件号码,社区,地址,人员类型\n" +
		"张三," + id("44070319800101001") + ",石冲社区,新塘里1号,常住\n" +
		"李四," + id("44070319800101002") + ",石冲社区,新塘里2号,常住\n"
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	first, err := sys.ImportRegistry(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Status != registry.ImportDone || first.Written != 2 || first.Source != "石冲 人口.csv" {
		t.Fatalf("first import %+v; want done, 2 written, source the base name", first)
	}
	again, err := sys.ImportRegistry(ctx, path, nil)
	if err != nil {
		t.Fatalf("the same file again: %v", err)
	}
	if again.ID != first.ID || again.Status != registry.ImportDone || again.Written != 0 || again.Unchanged != 2 || again.Version <= first.Version {
		t.Errorf("the same file again: %+v; want the same id done, 0 written, 2 unchanged, a version after %d", again, first.Version)
	}
}
