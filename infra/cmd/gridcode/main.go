// Command gridcode is the local runtime and admin CLI: serve, token, gen.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"gridcode/infra/gen"
	"gridcode/infra/local"
	"gridcode/shared/alert"
	"gridcode/shared/auth"
	"gridcode/shared/dates"
	"gridcode/shared/httpapi"
	"gridcode/shared/secrets"
	"gridcode/shared/store/dynamo"
	"gridcode/shared/store/embedded"
)

const usage = `usage: gridcode <command> [flags]

commands:
  serve   run the whole system on the embedded store (PORT, DATA_DIR; RATE_LIMITS=off for load tests)
  token   print a staff bearer token: token --role district_admin | --role grid_worker --grid <gridCode>
          | --role group_admin --group <groupId> | --role health_feed
  refresh build every group's daily list for a day now: refresh [--date YYYY-MM-DD] (the server
          does this at 06:00; stop it first, the store is one process's)
  import  import registry FILE: the population registry CSV (UTF-8 or GB18030), with a progress bar;
          import list FILE --kind nat|residence_code|venue_code|other [--name N]: a list to reconcile
          (both into the local store: stop the server first; refused rows go to FILE.errors.csv)
  reconcile LIST_A LIST_B: people in A and not in B become verification tasks in their grid
          ("registry" names the registry; list ids are printed by import list)
  qr      qr --out DIR [--report-url URL]: one report-code PNG per grid of the local store plus
          district.png, and codes.csv (the codes open URL/<gridCode>; URL defaults to the local form;
          for the cloud pass its REPORT_URL, https://<api>/<stage>/r; stop the server first)
  gen     write a synthetic district as JSONL and the registry as CSV (gen -h)
  keys    print a fresh keyset JSON, for the cloud's SSM SecureString parameter
  alerts  alerts replay [--alerts-table T] [id ...]: put failed alerts back in the queue
          (all failed ones without ids; the local store unless --alerts-table names DynamoDB's)
`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gridcode:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout)
	case "token":
		return token(args[1:], stdout)
	case "gen":
		return gen.Command(args[1:], stdout)
	case "qr":
		return qrCmd(ctx, args[1:], stdout)
	case "keys":
		return printKeys(stdout)
	case "alerts":
		return alerts(ctx, args[1:], stdout)
	case "refresh":
		return refreshNow(ctx, args[1:], stdout)
	case "import":
		return importCmd(ctx, args[1:], stdout, os.Stderr)
	case "reconcile":
		return reconcileCmd(ctx, args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q", args[0])
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func serve(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	port := fs.String("port", envOr("PORT", "8080"), "port on 127.0.0.1 (env PORT)")
	dataDir := fs.String("data-dir", envOr("DATA_DIR", ".data"), "data directory (env DATA_DIR)")
	limits := fs.String("rate-limits", envOr("RATE_LIMITS", "on"), "the public writes' limits per address and per person: on (the cloud's defaults) or off, for load tests from one address (env RATE_LIMITS)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rules := httpapi.DefaultPublicRules()
	switch *limits {
	case "on":
	case "off":
		rules = httpapi.PublicRules{}
	default:
		return fmt.Errorf("serve: --rate-limits %q: want on or off", *limits)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	sys, err := local.OpenWith(ctx, *dataDir, time.Now, rules)
	if err != nil {
		return err
	}
	defer sys.Close()
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", *port))
	if err != nil {
		return err
	}
	if sys.Seeded {
		fmt.Fprintf(stdout, "loaded the demo district (410 grids, sample risk areas) into %s\n", *dataDir)
	}
	fmt.Fprintf(stdout, "gridcode listening on http://%s\n", ln.Addr())
	fmt.Fprintf(stdout, "pages: http://%[1]s/ — report form /r (a grid's: /r/<gridCode>), grid worker /console, group /group,\n"+
		"       district /dashboard, posters /admin/posters; staff pages ask for a token:\n", ln.Addr())
	fmt.Fprintf(stdout, "staff tokens: bin/gridcode token --role district_admin\n")
	fmt.Fprintf(stdout, "              bin/gridcode token --role grid_worker --grid <gridCode from GET /v1/grids>\n")
	fmt.Fprintf(stdout, "              bin/gridcode token --role group_admin --group <groupId>\n")
	fmt.Fprintf(stdout, "group lists are refreshed every day at 06:00 Asia/Shanghai (and on start if missed)\n")
	fmt.Fprintf(stdout, "registry search: GET /v1/registry/search; a whole registry: stop the server, bin/gridcode import registry FILE\n")
	// Bodies are at most 16 KiB: slow clients on a phone network still fit.
	// Headers as API Gateway bounds them (10 KiB with the request line).
	srv := &http.Server{
		Handler:           sys.Handler,
		MaxHeaderBytes:    16 << 10,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	// Delivery stops, and its sends settle, before the store closes (the
	// defer above runs last): a stop is not a kill.
	deliverCtx, stopDelivery := context.WithCancel(ctx)
	var delivering sync.WaitGroup
	delivering.Go(func() { sys.Deliver(deliverCtx) })
	defer func() { stopDelivery(); delivering.Wait() }()
	fmt.Fprintf(stdout, "SMS are written to %s and listed at GET /dev/sms\n", filepath.Join(*dataDir, local.OutboxFile))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

func token(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	role := fs.String("role", "", "district_admin, grid_worker, group_admin or health_feed")
	var grids gridList
	fs.Var(&grids, "grid", "a grid of a grid_worker (repeat the flag, or a comma list, for several)")
	groupID := fs.String("group", "", "the group of a group_admin")
	subject := fs.String("sub", "", "who the token is for (default: the role)")
	ttl := fs.Duration("ttl", 12*time.Hour, "how long the token is valid")
	dataDir := fs.String("data-dir", envOr("DATA_DIR", ".data"), "data directory (env DATA_DIR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, ok := auth.ParseRole(*role)
	if !ok {
		return fmt.Errorf("--role must be %s, %s, %s or %s", auth.DistrictAdmin, auth.GridWorker, auth.GroupAdmin, auth.HealthFeed)
	}
	keys, err := secrets.FromFile(local.KeysFile(*dataDir))
	if err != nil {
		return err
	}
	issuer, err := auth.NewIssuer(keys.TokenKey)
	if err != nil {
		return err
	}
	if *subject == "" {
		*subject = string(r)
	}
	tok, err := issuer.Issue(auth.Principal{Subject: *subject, Role: r, Grids: auth.ParseGrids(grids...), Group: *groupID, Expires: time.Now().Add(*ttl)})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// gridList collects a repeated --grid flag.
type gridList []string

func (g *gridList) String() string { return strings.Join(*g, ",") }

func (g *gridList) Set(v string) error {
	*g = append(*g, v)
	return nil
}

// printKeys writes a new keyset for `aws ssm put-parameter --type
// SecureString --name /gridcode/keys --value file://keys.json`.
func printKeys(stdout io.Writer) error {
	k, err := secrets.Generate()
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(k)
}

// alerts replay re-queues failed alerts after a provider outage that
// outlasted the retries. Without ids it takes the ones that ran out of
// retries, not those that failed for good (an invalid number).
// refreshNow runs a day's group refresh in this process, to the end.
func refreshNow(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("refresh", flag.ContinueOnError)
	dataDir := fs.String("data-dir", envOr("DATA_DIR", ".data"), "data directory (env DATA_DIR)")
	date := fs.String("date", dates.Today(time.Now()), "district day to refresh")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sys, err := local.Open(ctx, *dataDir, time.Now)
	if err != nil {
		return fmt.Errorf("%w (is gridcode serve running? it refreshes at 06:00, or POST /v1/refresh/run)", err)
	}
	defer sys.Close()
	p, err := sys.Refresh(ctx, *date)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "refresh %s: %d of %d groups have their list\n", p.Date, p.Done, p.Groups)
	for _, f := range p.Failed {
		fmt.Fprintf(stdout, "  failed: group %s: %s\n", f.GroupID, f.Reason)
	}
	fmt.Fprintln(stdout, "the administrators' SMS are queued; gridcode serve sends them")
	if len(p.Failed) > 0 {
		return fmt.Errorf("%d groups failed", len(p.Failed))
	}
	return nil
}

func alerts(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "replay" {
		return errors.New("usage: gridcode alerts replay [--alerts-table T] [--data-dir D] [id ...]")
	}
	fs := flag.NewFlagSet("alerts replay", flag.ContinueOnError)
	dataDir := fs.String("data-dir", envOr("DATA_DIR", ".data"), "data directory of the local store (env DATA_DIR)")
	table := fs.String("alerts-table", "", "DynamoDB alerts table (default: the local store)")
	limit := fs.Int("limit", 1000, "most alerts to replay when no ids are given")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var replayer alert.Replayer
	if *table != "" {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return err
		}
		replayer = dynamo.New(dynamodb.NewFromConfig(cfg), dynamo.Tables{Alerts: *table})
	} else {
		store, err := embedded.Open(filepath.Join(*dataDir, local.StoreFile))
		if err != nil {
			return fmt.Errorf("%w (is gridcode serve running? stop it first)", err)
		}
		defer store.Close()
		replayer = store
	}
	ids := fs.Args()
	if len(ids) == 0 {
		failed, err := replayer.Failed(ctx, *limit)
		if err != nil {
			return err
		}
		for _, a := range failed {
			if a.GaveUp() {
				ids = append(ids, a.ID)
			}
		}
	}
	replayed := 0
	var errs []error
	for _, id := range ids {
		ok, err := replayer.Requeue(ctx, id)
		if err != nil {
			errs = append(errs, err)
		} else if ok {
			replayed++
		}
	}
	fmt.Fprintf(stdout, "replayed %d of %d alerts; they go out on the next delivery pass\n", replayed, len(ids))
	return errors.Join(errs...)
}
