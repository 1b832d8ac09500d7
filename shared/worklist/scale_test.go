package worklist_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"gridcode/shared/worklist"
)

// TestScale uploads two district-wide lists (WORKLIST_SCALE people each,
// e.g. 800000) that differ by 5%, and reconciles them, logging the times:
// the targets are a few seconds for an upload and 10 s for the
// reconciliation with its tasks. It checks the counts, never the clock.
//
//	WORKLIST_SCALE=800000 go test -run TestScale -v ./shared/worklist/
func TestScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("WORKLIST_SCALE"))
	if n <= 0 {
		t.Skip("set WORKLIST_SCALE to the number of people")
	}
	f := newFixture(t)
	f.now = time.Now()
	communities := []string{"石冲社区", "白沙", "", "火星"}

	upload := func(kind string, skip func(i int) bool) worklist.List {
		// The file is written first, untimed: the upload reads a request
		// body or a file, not a generator that shares its CPU.
		path := filepath.Join(t.TempDir(), kind+".csv")
		file, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriter(file)
		fmt.Fprintln(w, "姓名,证件类型,证件号码,手机号,社区,地址,检测点,检测时间")
		for i := range n {
			if !skip(i) {
				fmt.Fprintf(w, "人%d,居民身份证,%s,138%08d,%s,新塘里%d号,第%d采样点,2026-11-29 08:%02d\n",
					i, residentID(i), i, communities[(i/3)%len(communities)], i%300, i%50, i%60)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if _, err := file.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		defer file.Close()
		pr := file
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		l, rowErrs, err := f.uploader().Upload(context.Background(), "scale "+kind, kind, "bench", pr)
		if err != nil || len(rowErrs) > 0 {
			t.Fatalf("upload: %v, %d row errors", err, len(rowErrs))
		}
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		t.Logf("upload of %d rows: %v (%.0f rows/s), heap %d MB", l.Rows, time.Since(start), float64(l.Rows)/time.Since(start).Seconds(), after.HeapAlloc>>20)
		return l
	}
	a := upload(worklist.KindNAT, func(int) bool { return false })
	b := upload(worklist.KindResidenceCode, func(i int) bool { return i%20 == 7 })

	start := time.Now()
	res, err := f.reconciler().Run(context.Background(), a.ID, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	want := (n + 12) / 20
	t.Logf("reconciliation: %v; %+v", took, res)
	if res.Missing != want || res.Created != want {
		t.Errorf("missing %d created %d, want %d", res.Missing, res.Created, want)
	}
	start = time.Now()
	again, err := f.reconciler().Run(context.Background(), a.ID, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rerun: %v; %+v", time.Since(start), again)
	if again.Created != 0 {
		t.Errorf("rerun created %d tasks", again.Created)
	}
}
