// Command bench is `make bench`: intake under load on the embedded store and
// on DynamoDB Local, the group-code refresh, the grid work (registry import
// and search, list reconciliation) and the handler's CPU per report, each
// beside a baseline measured in the same run.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"gridcode/infra/bench"
	"gridcode/infra/demo"
	"gridcode/infra/dynamolocal"
	"gridcode/infra/gen"
	"gridcode/infra/local"
	"gridcode/shared/alert"
	"gridcode/shared/area"
	"gridcode/shared/dates"
	"gridcode/shared/district"
	"gridcode/shared/httpapi"
	"gridcode/shared/report"
	"gridcode/shared/secrets"
	"gridcode/shared/store/dynamo"
	"gridcode/shared/store/embedded"
)

type options struct {
	reports       int
	dynamoReports int
	clients       int
	skipDynamo    bool
	alerts        int
	budgetAlerts  int
	budget        int
	groups        groupsOptions
	skipGroups    bool
	gridwork      gridworkOptions
	skipGridwork  bool
	skipPages     bool
	pageLoads     int
	only          string

	skipCrash       bool
	crashIterations int
	skipTrust       bool
	fuzzTime        string
}

func main() {
	var o options
	flag.IntVar(&o.reports, "reports", 20000, "reports sent to the embedded store")
	flag.IntVar(&o.dynamoReports, "dynamo-reports", 20000, "reports sent to DynamoDB Local")
	flag.IntVar(&o.clients, "clients", 64, "concurrent clients")
	flag.BoolVar(&o.skipDynamo, "skip-dynamo", false, "skip the DynamoDB Local run")
	flag.IntVar(&o.alerts, "alerts", 100000, "pending alerts fanned out without a rate limit")
	flag.IntVar(&o.budgetAlerts, "budget-alerts", 2000, "alerts fanned out within the SMS budget")
	flag.IntVar(&o.budget, "budget", 200, "SMS budget, messages per second")
	flag.Float64Var(&o.groups.scale, "groups-scale", 1.0, "size of the group-code district on the embedded store, of 800,000 people and 3,421 groups")
	flag.Float64Var(&o.groups.dynamoScale, "dynamo-groups-scale", 0.1, "size of the group-code district on DynamoDB Local")
	groupsParallel := flag.String("groups-parallel", "4,16,32", "Worker.Parallel values the embedded refresh tries, the best reported")
	dynamoGroupsParallel := flag.String("dynamo-groups-parallel", "8,16,32", "Worker.Parallel values the DynamoDB Local refresh tries, the best reported")
	flag.IntVar(&o.groups.feed, "feed-updates", 100_000, "health updates through the feed (0: none)")
	flag.BoolVar(&o.skipGroups, "skip-groups", false, "skip the group-code refresh and health feed")
	flag.Float64Var(&o.gridwork.scale, "registry-scale", 1.0, "size of the registry imported, searched and reconciled on the embedded store, of 800,000 people")
	flag.Float64Var(&o.gridwork.dynamoScale, "dynamo-registry-scale", 0.025, "size of the registry imported into DynamoDB Local, of 800,000 people")
	flag.BoolVar(&o.skipGridwork, "skip-gridwork", false, "skip the grid-work rows (registry import and search, reconciliation)")
	flag.BoolVar(&o.skipPages, "skip-pages", false, "skip the report form's load in headless Chromium")
	flag.IntVar(&o.pageLoads, "page-loads", 50, "loads of the report form (and of the start page) timed")
	flag.BoolVar(&o.skipCrash, "skip-crash", false, "skip the crash test (the local server killed and restarted)")
	flag.IntVar(&o.crashIterations, "crash-iterations", 200, "kills of the local server in the crash test")
	flag.BoolVar(&o.skipTrust, "skip-trust", false, "skip the trust summary's access test and fuzz run")
	flag.StringVar(&o.fuzzTime, "fuzztime", "5s", "how long each fuzz target runs for the trust summary")
	flag.StringVar(&o.only, "only", "", `run only these rows: "groups" (the group-code refresh and health feed), "gridwork" (registry import and search, reconciliation), "pages" (the report form in Chromium), "crash" (the crash test) or "trust" (the access test and fuzzing, for the summary)`)
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	var err, derr error
	o.groups.parallel, err = parseParallel("groups-parallel", *groupsParallel)
	o.groups.dynamoParallel, derr = parseParallel("dynamo-groups-parallel", *dynamoGroupsParallel)
	if err = errors.Join(err, derr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if o.only != "" && o.only != "groups" && o.only != "gridwork" && o.only != "pages" && o.only != "crash" && o.only != "trust" {
		fmt.Fprintf(os.Stderr, "bench: -only %q: want \"groups\", \"gridwork\", \"pages\", \"crash\" or \"trust\"\n", o.only)
		os.Exit(2)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

type row struct{ what, result, baseline, ratio string }

func run(ctx context.Context, o options, out io.Writer) error {
	// The request log would measure the terminal, not the service.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	loadBefore := loadAverage()
	today := dates.Today(time.Now())
	communities, err := demo.CommunityNames()
	if err != nil {
		return err
	}
	bodies := func(seed int64, n int) ([][]byte, error) {
		subs := gen.Reports(seed, n, today, communities, 0)
		out := make([][]byte, len(subs))
		for i, s := range subs {
			if out[i], err = json.Marshal(s); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	var rows []row
	others := o.only == ""
	groups := o.only == "groups" || others && !o.skipGroups
	gridwork := o.only == "gridwork" || others && !o.skipGridwork

	if others {
		embeddedRows, err := benchEmbedded(ctx, o, bodies)
		if err != nil {
			return err
		}
		rows = append(rows, embeddedRows...)
	}
	if groups {
		groupRows, err := benchGroupsEmbedded(ctx, o.groups)
		if err != nil {
			return err
		}
		rows = append(rows, groupRows...)
	}
	if gridwork {
		gridRows, err := benchGridworkEmbedded(ctx, o.gridwork)
		if err != nil {
			return err
		}
		rows = append(rows, gridRows...)
	}
	if !o.skipDynamo {
		endpoint, err := dynamolocal.Start()
		if err != nil {
			return err
		}
		defer dynamolocal.Stop()
		client := dynamolocal.NewClient(endpoint)
		if others {
			r, err := benchDynamo(ctx, client, o, bodies, today)
			if err != nil {
				return err
			}
			rows = append(rows, r)
			if r, err = benchSharedBudget(ctx, client, o.budgetAlerts/2, o.budget/2); err != nil {
				return err
			}
			rows = append(rows, r)
		}
		if groups {
			r, err := benchGroupsDynamo(ctx, client, o.groups)
			if err != nil {
				return err
			}
			rows = append(rows, r)
		}
		if gridwork {
			r, err := benchGridworkDynamo(ctx, client, o.gridwork)
			if err != nil {
				return err
			}
			rows = append(rows, r)
		}
	}
	if others {
		fanoutRows, err := benchFanout(ctx, o.alerts, o.budgetAlerts, o.budget)
		if err != nil {
			return err
		}
		rows = append(rows, fanoutRows...)
		r, err := benchHandlerCPU(ctx, bodies)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	if o.only == "pages" || others && !o.skipPages {
		r, err := benchReportForm(ctx, o.pageLoads)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	// The crash row is printed whatever the test found; what it found
	// fails the run after the table.
	var crashErr error
	var trust trustSummary
	if o.only == "crash" || others && !o.skipCrash {
		r, err := benchCrash(ctx, o.crashIterations, &trust)
		if r.what == "" {
			return err
		}
		rows = append(rows, r)
		crashErr = err
	}

	fmt.Fprintf(out, "gridcode bench, %s, %d CPUs, %s%s\n\n", time.Now().Format("2006-01-02"), runtime.NumCPU(), runtime.Version(), loadNote(loadBefore, loadAverage()))
	fmt.Fprintln(out, "| measure | result | baseline (same run) | ratio |")
	fmt.Fprintln(out, "| --- | --- | --- | --- |")
	for _, r := range rows {
		fmt.Fprintf(out, "| %s | %s | %s | %s |\n", r.what, r.result, r.baseline, r.ratio)
	}
	if o.only == "trust" || others && !o.skipTrust {
		if err := checkAccess(ctx, &trust); err != nil {
			return err
		}
		if err := fuzzAll(ctx, o.fuzzTime, &trust); err != nil {
			return err
		}
	}
	var summary bytes.Buffer
	trust.print(&summary)
	out.Write(summary.Bytes())
	if trust.accessFailed {
		return errors.Join(crashErr, errors.New("the access test failed"))
	}
	return crashErr
}

// serve runs h on a real loopback listener: the load crosses the network stack.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

func checkLoad(l bench.Load, what string) error {
	if l.Failures > 0 || l.Status[http.StatusCreated] != l.Requests {
		return fmt.Errorf("%s: not every report was stored: statuses %v, %d transport failures", what, l.Status, l.Failures)
	}
	return nil
}

func loadResult(l bench.Load) string {
	return fmt.Sprintf("%.0f reports/s, p50 %.1f ms, p99 %.1f ms", l.Rate(), ms(l.P50), ms(l.P99))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func benchEmbedded(ctx context.Context, o options, bodies func(int64, int) ([][]byte, error)) ([]row, error) {
	dir, err := os.MkdirTemp("", "gridcode-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// 64 clients on one address: no per-address limit.
	sys, err := local.OpenWith(ctx, filepath.Join(dir, "intake"), time.Now, httpapi.PublicRules{})
	if err != nil {
		return nil, err
	}
	defer sys.Close()
	load, err := bodies(1, o.reports)
	if err != nil {
		return nil, err
	}
	url, stop, err := serve(sys.Handler)
	if err != nil {
		return nil, err
	}
	l := bench.Post(ctx, url+"/v1/reports", load, o.clients)
	stop()
	if err := checkLoad(l, "embedded"); err != nil {
		return nil, err
	}
	n, err := sys.Store.CountAlerts(ctx)
	if err != nil || n != o.reports {
		return nil, fmt.Errorf("embedded: %d alerts stored for %d reports (%v)", n, o.reports, err)
	}

	// Baseline: the store's own transactional create, same concurrency, no HTTP.
	raw, err := embedded.Open(filepath.Join(dir, "raw.db"))
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	recs := rawRecords(o.reports)
	rawElapsed, err := bench.Parallel(len(recs), o.clients, func(i int) error {
		_, _, err := raw.Create(ctx, recs[i].r, recs[i].a)
		return err
	})
	if err != nil {
		return nil, err
	}
	rawRate := float64(len(recs)) / rawElapsed.Seconds()
	return []row{{
		what:     fmt.Sprintf("intake over local HTTP, embedded store, %d clients, %d reports", o.clients, o.reports),
		result:   loadResult(l),
		baseline: fmt.Sprintf("raw store create (report+alert tx) %.0f/s", rawRate),
		ratio:    fmt.Sprintf("%.2f", l.Rate()/rawRate),
	}}, nil
}

type rawRecord struct {
	r report.Record
	a alert.Alert
}

// rawRecords are records shaped like intake's, for the store baselines.
func rawRecords(n int) []rawRecord {
	now := time.Now().UTC()
	sealed := []byte(strings.Repeat("x", 180))
	out := make([]rawRecord, n)
	for i := range out {
		id := fmt.Sprintf("raw%08d", i)
		r := report.Record{
			ID: id, GridCode: "440703006107-01", RoutedBy: report.RoutedByCommunity, ListKey: report.ListKey(now, id),
			IDType: "resident_id", ArrivalStatus: report.Arrived, ArrivalDate: dates.Today(now), FromAreaCode: "110105",
			Itinerary: []report.Stop{{AreaCode: "440106", Date: dates.Today(now)}}, Community: "石冲社区",
			RiskLevel: "none", Guidance: strings.Repeat("指", 60), Status: report.StatusNew, SubmittedAt: now,
			ExpiresAt: now.Add(local.Retention).Unix(), PersonLookup: id, PhoneLookup: id, Sealed: sealed,
		}
		out[i] = rawRecord{r: r, a: alert.Alert{
			ID: report.WelcomeAlertID(id), Template: alert.ReportWelcome.Code, Params: map[string]string{"action": "抵达24小时内做1次核酸"},
			RecipientLookup: id, RecipientSealed: sealed[:40], ReportID: id, GridCode: r.GridCode, Status: alert.Pending,
			CreatedAt: now, ExpiresAt: r.ExpiresAt,
		}}
	}
	return out
}

func benchDynamo(ctx context.Context, client *dynamodb.Client, o options, bodies func(int64, int) ([][]byte, error), today string) (row, error) {
	tables := dynamo.Tables{Reports: "bench-reports", Alerts: "bench-alerts", Grids: "bench-grids", Rules: "bench-rules", DailyCounts: "bench-daily-counts"}
	if err := dynamo.CreateTables(ctx, client, tables); err != nil {
		return row{}, err
	}
	keys, err := secrets.Generate()
	if err != nil {
		return row{}, err
	}
	vault, err := keys.Vault()
	if err != nil {
		return row{}, err
	}
	areas, err := area.Load()
	if err != nil {
		return row{}, err
	}
	store := dynamo.New(client, tables)
	settings := district.NewSettings(store, areas, time.Now, time.Minute)
	grids, err := demo.Grids(vault)
	if err != nil {
		return row{}, err
	}
	if err := settings.PutGrids(ctx, grids); err != nil {
		return row{}, err
	}
	if err := settings.SetRiskAreas(ctx, demo.RiskAreas(today)); err != nil {
		return row{}, err
	}
	mux := http.NewServeMux()
	httpapi.IntakeAPI{Intake: &report.Intake{
		Store: store, Rules: settings, Vault: vault, Areas: areas, Now: time.Now, Retention: local.Retention,
	}}.Register(mux)
	url, stop, err := serve(httpapi.Logged(mux))
	if err != nil {
		return row{}, err
	}
	load, err := bodies(2, o.dynamoReports)
	if err != nil {
		return row{}, err
	}
	l := bench.Post(ctx, url+"/v1/reports", load, o.clients)
	stop()
	if err := checkLoad(l, "dynamodb"); err != nil {
		return row{}, err
	}

	// Baseline: plain PutItem of report-shaped items, same concurrency.
	recs := rawRecords(o.dynamoReports)
	rawElapsed, err := bench.Parallel(len(recs), o.clients, func(i int) error {
		item, err := attributevalue.MarshalMapWithOptions(recs[i].r, func(o *attributevalue.EncoderOptions) { o.TagKey = "json" })
		if err != nil {
			return err
		}
		_, err = client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tables.Reports), Item: item})
		return err
	})
	if err != nil {
		return row{}, err
	}
	rawRate := float64(len(recs)) / rawElapsed.Seconds()

	// Second baseline: the store's own create, one TransactWriteItems of
	// report and alert, which is what intake pays per report.
	txRecs := rawRecords(o.dynamoReports)
	for i := range txRecs {
		txRecs[i].r.ID = "tx" + txRecs[i].r.ID
		txRecs[i].a.ID = report.WelcomeAlertID(txRecs[i].r.ID)
	}
	txElapsed, err := bench.Parallel(len(txRecs), o.clients, func(i int) error {
		_, _, err := store.Create(ctx, txRecs[i].r, txRecs[i].a)
		return err
	})
	if err != nil {
		return row{}, err
	}
	txRate := float64(len(txRecs)) / txElapsed.Seconds()
	return row{
		what:     fmt.Sprintf("intake over local HTTP, DynamoDB Local 1.25.1, %d clients, %d reports", o.clients, o.dynamoReports),
		result:   loadResult(l),
		baseline: fmt.Sprintf("raw PutItem %.0f/s; raw store create (TransactWriteItems) %.0f/s", rawRate, txRate),
		ratio:    fmt.Sprintf("%.2f of PutItem; %.2f of the transaction", l.Rate()/rawRate, l.Rate()/txRate),
	}, nil
}

// benchHandlerCPU runs the intake handler in-process (no network, no fsync)
// on fresh reports from parallel callers, so the store's batching is not
// waited out one report at a time, and reports the process CPU time (user +
// system) per report. Beside it, the CPU of decoding the same body alone.
func benchHandlerCPU(ctx context.Context, bodies func(int64, int) ([][]byte, error)) (row, error) {
	dir, err := os.MkdirTemp("", "gridcode-bench-cpu-")
	if err != nil {
		return row{}, err
	}
	defer os.RemoveAll(dir)
	sys, err := local.OpenWith(ctx, dir, time.Now, httpapi.PublicRules{}, embedded.WithoutFsync())
	if err != nil {
		return row{}, err
	}
	defer sys.Close()
	const n = 20000
	pool, err := bodies(3, n)
	if err != nil {
		return row{}, err
	}
	var failed atomic.Value
	var next atomic.Int64
	cpu0 := cpuTime()
	handler := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				// Past the pool the same bodies come back as duplicates: a
				// cheaper path, so the pool is sized above what one second takes.
				body := pool[int(next.Add(1)-1)%len(pool)]
				req := httptest.NewRequest(http.MethodPost, "/v1/reports", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				sys.Handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusCreated && rec.Code != http.StatusOK {
					failed.Store(fmt.Errorf("handler answered %d: %s", rec.Code, rec.Body))
				}
			}
		})
	})
	handlerCPU := cpuTime() - cpu0
	if err, _ := failed.Load().(error); err != nil {
		return row{}, err
	}
	calls := next.Load() // testing.Benchmark runs the function several times while sizing N
	cpu0 = cpuTime()
	decode := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var s report.Submission
			if err := json.Unmarshal(pool[i%len(pool)], &s); err != nil {
				failed.Store(err)
				return
			}
		}
	})
	decodeCPU := cpuTime() - cpu0
	if err, _ := failed.Load().(error); err != nil {
		return row{}, err
	}
	decodeCalls := int64(decode.N) // approximate: the last sizing run dominates
	handlerPer := handlerCPU.Nanoseconds() / calls
	decodePer := decodeCPU.Nanoseconds() / decodeCalls
	return row{
		what: "intake handler per report (in-process, no network, no fsync, 8 parallel callers)",
		result: fmt.Sprintf("%d ns/op CPU (%d ns/op wall), %d allocs/op, %d B/op",
			handlerPer, handler.NsPerOp(), handler.AllocsPerOp(), handler.AllocedBytesPerOp()),
		baseline: fmt.Sprintf("JSON decode of the body alone %d ns/op CPU, %d allocs/op", decodePer, decode.AllocsPerOp()),
		ratio:    fmt.Sprintf("%.1f", float64(handlerPer)/float64(decodePer)),
	}, nil
}

// loadAverage is the one-minute load average, "" where /proc/loadavg is
// not to be had.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return f[0]
	}
	return ""
}

// loadNote says how busy the machine was: other work slows a row and its
// baseline, not always alike. The run itself adds about a load of its
// CPUs to the figure at its end.
func loadNote(before, after string) string {
	if before == "" || after == "" {
		return ""
	}
	return fmt.Sprintf(", load average %s before the run and %s at its end", before, after)
}

// cpuTime is the CPU time this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
