package embedded

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"gridcode/shared/worklist"
)

func TestChunkRowRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []worklist.Chunk{
		{ListID: "l1", N: 0},
		{ListID: "l1", N: 1, Sealed: []byte{0, 1}},
		{ListID: "l1", N: 70000, Keys: []string{"k1", "", "k3长"}, Grids: []string{"", "g2", ""}, Sealed: []byte("evidence")},
	}
	for _, want := range cases {
		row := encodeChunk(want)
		got, err := decodeChunk(want.ListID, want.N, row, true)
		if err != nil {
			t.Fatalf("decode chunk %d: %v", want.N, err)
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("chunk %d (-want +got):\n%s", want.N, diff)
		}
		bare, err := decodeChunk(want.ListID, want.N, row, false)
		if err != nil || bare.Sealed != nil || len(bare.Keys) != len(want.Keys) {
			t.Errorf("chunk %d without evidence = %+v, %v", want.N, bare, err)
		}
	}
	row := encodeChunk(cases[2])
	for cut := range len(row) - len(cases[2].Sealed) {
		if _, err := decodeChunk("l1", 2, row[:cut], false); err == nil {
			t.Fatalf("chunk cut at %d of %d bytes decoded", cut, len(row))
		}
	}
}

// BenchmarkWorklist times what the reconciliation and the task writes do
// at the district's scale: reading two lists of WORKLIST_BENCH_ROWS
// (800,000 by default) without their evidence, and creating 40,000 tasks
// in one call. Run with -bench=Worklist -benchtime=1x.
func BenchmarkWorklist(b *testing.B) {
	rows := 800_000
	if v, err := strconv.Atoi(os.Getenv("WORKLIST_BENCH_ROWS")); err == nil {
		rows = v
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	evidence := make([]byte, 150*worklist.ChunkRows)
	for range b.N {
		s, err := Open(filepath.Join(b.TempDir(), "gridcode.db"))
		if err != nil {
			b.Fatal(err)
		}
		var chunks []worklist.Chunk
		for _, listID := range []string{"lA", "lB"} {
			for n := 0; n*worklist.ChunkRows < rows; n++ {
				c := worklist.Chunk{ListID: listID, N: n, Sealed: evidence}
				for range min(worklist.ChunkRows, rows-n*worklist.ChunkRows) {
					c.Keys = append(c.Keys, fmt.Sprintf("%032x", rng.Uint64())[:32])
					c.Grids = append(c.Grids, fmt.Sprintf("4407030%05d-0%d", rng.IntN(139), rng.IntN(3)))
				}
				chunks = append(chunks, c)
			}
		}
		// Two writers, as the uploader has at least.
		start := time.Now()
		work := make(chan worklist.Chunk)
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for c := range work {
					if err := s.PutListChunk(ctx, c); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		for _, c := range chunks {
			work <- c
		}
		close(work)
		wg.Wait()
		b.ReportMetric(time.Since(start).Seconds(), "put-two-lists-s")

		start = time.Now()
		for _, listID := range []string{"lA", "lB"} {
			chunks, err := s.Chunks(ctx, listID, false)
			if err != nil || len(chunks)*worklist.ChunkRows < rows {
				b.Fatalf("Chunks %s = %d, %v", listID, len(chunks), err)
			}
		}
		b.ReportMetric(time.Since(start).Seconds(), "read-two-lists-s")

		tasks := make([]worklist.Task, 40_000)
		for i := range tasks {
			tasks[i] = worklist.Task{
				ID: fmt.Sprintf("t%024x", rng.Uint64()), GridCode: fmt.Sprintf("g%03d", i%410), Reason: "not_in_registry",
				ListA: "lA", ListB: "lB", PersonKey: fmt.Sprintf("%032x", rng.Uint64()), Status: worklist.TaskOpen,
				DueOn: "2022-12-03", CreatedAt: time.Now(), UpdatedAt: time.Now(), EvidenceSealed: evidence[:200],
			}
		}
		start = time.Now()
		if created, err := s.CreateTasks(ctx, tasks); err != nil || created != len(tasks) {
			b.Fatalf("CreateTasks = %d, %v", created, err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "create-40k-tasks-s")
		start = time.Now()
		if created, err := s.CreateTasks(ctx, tasks); err != nil || created != 0 {
			b.Fatalf("CreateTasks again = %d, %v", created, err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "recreate-40k-tasks-s")

		start = time.Now()
		got, err := s.GridTasks(ctx, worklist.TaskQuery{GridCode: "g007", Limit: 200})
		if err != nil || len(got.Tasks) < 90 {
			b.Fatalf("GridTasks = %d, %v", len(got.Tasks), err)
		}
		b.ReportMetric(float64(time.Since(start).Microseconds()), "grid-tasks-µs")
		s.Close()
	}
}
