// Package crashtest kills the local server (SIGKILL, the whole process
// group) at random moments while phones send reports and the district
// office runs the day's group refresh, restarts it on the same data dir,
// and checks the "nothing lost": every report answered 201 (or 200
// for a resubmission) is stored with its welcome alert and that SMS goes
// out once; a refresh that was started completes after the restart, each
// group's list is built once and its administrator's morning SMS goes out
// once; no alert is ever sent twice.
//
// Each iteration is one life of `gridcode serve`: start, let the refresh
// of the previous life finish, fire a burst (with, every few lives, new
// groups and a refresh), SIGKILL at a random moment, then read the store
// and the outbox as the kill left them. At the end the server runs until
// delivery has settled and everything is checked once more.
//
// A kill between the outbox's line and the ledger's record of it (counted
// as SendWindow) used to send that SMS again once the dead sender's claim
// lapsed; the outbox now answers sms.Receipts and the alert is recorded
// sent instead. The local server resumes an interrupted run only for
// today and only after 06:00 (district time): a run of a past day, or of
// today before 06:00, cut off by a crash stays incomplete, and asking for
// it again is refused (409) for 30 minutes. So refreshes are asked for
// today's date, and not at all before 06:00 (Result.RefreshNote).
package crashtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"gridcode/infra/demo"
	"gridcode/infra/gen"
	"gridcode/infra/local"
	"gridcode/infra/testproc"
	"gridcode/shared/dates"
)

// Options configure Run. Zero values take the defaults named.
type Options struct {
	Iterations int    // server lives, each ended by SIGKILL; default 200
	Binary     string // the gridcode CLI (see Build); required
	// DataDir is reused by every life, as a server that crashes and
	// restarts reuses its store; "" makes (and removes) a temporary one.
	DataDir string

	Reports      int           // new reports per burst; default 10, plus the last burst's unanswered ones, 25 in all at most
	Clients      int           // phones sending at once; default 4
	MaxKillDelay time.Duration // the kill comes 0..MaxKillDelay after the burst starts (a quarter of it with a refresh); default 250 ms

	// Every RefreshEvery-th life registers RefreshGroups new groups of
	// GroupMembers people and asks for today's refresh with its burst;
	// defaults 4, 3 and 20; RefreshEvery < 0: never.
	RefreshEvery  int
	RefreshGroups int
	GroupMembers  int

	// SettleAll waits at the end until every SMS is sent, outliving the
	// 60 s claims of killed senders; otherwise the wait ends once only
	// such claims are left (they count as Held). SettleTimeout bounds the
	// wait; default 3 minutes.
	SettleAll     bool
	SettleTimeout time.Duration

	Seed uint64    // of the report bodies and the kill moments; 0: random
	Log  io.Writer // progress lines; nil: none

	// afterKill, for tests, changes the data dir after a kill and before
	// the check, given the reports answered in that life.
	afterKill func(dir string, acked []string) error
}

func (o *Options) defaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Iterations, 200)
	def(&o.Reports, 10)
	def(&o.Clients, 4)
	def(&o.RefreshEvery, 4)
	def(&o.RefreshGroups, 3)
	def(&o.GroupMembers, 20)
	if o.MaxKillDelay <= 0 {
		o.MaxKillDelay = 250 * time.Millisecond
	}
	if o.SettleTimeout <= 0 {
		o.SettleTimeout = 3 * time.Minute
	}
	if o.Seed == 0 {
		o.Seed = rand.Uint64()
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// Result counts what Run saw.
type Result struct {
	Seed       uint64
	Iterations int // kills

	Reports int // report requests sent, retries included
	Acked   int // distinct reports answered with their id (201, or 200 for a resubmission)
	// LostReports were answered and are not stored; LostAlerts are
	// expected alerts (welcome SMS of acknowledged reports, morning SMS of
	// refreshed groups) not stored, failed, or marked sent without
	// reaching the outbox.
	LostReports, LostAlerts int
	Refused                 int // reports answered with another status than 201, 200 or 429 (never expected)
	RateLimited             int // answered 429: the phone sends again in the next life

	KillsMidIntake  int // kills with a report request unanswered
	KillsMidRefresh int // kills while the day's run was not complete
	// SendWindow counts alerts that the outbox had taken while the ledger
	// still said "sending" at a kill: the documented window in which a
	// message can go out twice.
	SendWindow int

	Alerts     int // expected alerts checked at the end
	Sent       int // of them sent
	Held       int // of them still claimed by a killed sender whose lease had not lapsed
	Unsent     int // of them pending when the settle wait ended
	MorningSMS int // of them groups' morning SMS

	SMS          int // outbox lines
	DuplicateSMS int // outbox lines beyond the first of an alert

	RefreshesStarted, RefreshesCompleted int
	ListsMissing, ListsRebuilt           int
	RefreshNote                          string // why no refresh was asked for, if none was

	Elapsed    time.Duration // the lives, kills and checks
	Settle     time.Duration // the final wait for delivery
	LifeMedian time.Duration // one life: start, burst, kill, check

	Problems []string // the first few things that went wrong
}

// Err says what of the promises the run found broken.
func (r Result) Err() error {
	var errs []error
	if r.LostReports > 0 {
		errs = append(errs, fmt.Errorf("%d acknowledged reports lost", r.LostReports))
	}
	if r.LostAlerts > 0 {
		errs = append(errs, fmt.Errorf("%d alerts lost", r.LostAlerts))
	}
	if r.Unsent > 0 {
		errs = append(errs, fmt.Errorf("%d alerts not sent when delivery settled", r.Unsent))
	}
	if r.DuplicateSMS > 0 {
		errs = append(errs, fmt.Errorf("%d SMS sent twice (%d alerts were in the send window at a kill)", r.DuplicateSMS, r.SendWindow))
	}
	if r.RefreshesCompleted < r.RefreshesStarted {
		errs = append(errs, fmt.Errorf("%d of %d refreshes did not complete", r.RefreshesStarted-r.RefreshesCompleted, r.RefreshesStarted))
	}
	if r.ListsMissing > 0 || r.ListsRebuilt > 0 {
		errs = append(errs, fmt.Errorf("%d daily lists missing, %d built twice", r.ListsMissing, r.ListsRebuilt))
	}
	if r.Refused > 0 {
		errs = append(errs, fmt.Errorf("%d reports refused", r.Refused))
	}
	if len(errs) > 0 && len(r.Problems) > 0 {
		errs = append(errs, errors.New("first problems:\n  "+strings.Join(r.Problems, "\n  ")))
	}
	return errors.Join(errs...)
}

// refreshWaitTimeout bounds the wait for a restarted refresh.
const refreshWaitTimeout = 60 * time.Second

// Run runs the crash test. The error is about the harness (the binary did
// not start, the store could not be read); what the test found is in the
// Result (see Result.Err).
func Run(ctx context.Context, o Options) (Result, error) {
	return run(ctx, o, true)
}

// Baseline runs the same lives with the same bursts and refreshes, each
// ended by SIGTERM once its burst is answered instead of by a kill, and
// without the final settle: what a life costs when nothing crashes.
func Baseline(ctx context.Context, o Options) (Result, error) {
	return run(ctx, o, false)
}

func run(ctx context.Context, o Options, kill bool) (Result, error) {
	o.defaults()
	res := Result{Seed: o.Seed}
	if o.Binary == "" {
		return res, errors.New("crashtest: Options.Binary is required (see Build)")
	}
	dir := o.DataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "gridcode-crashtest-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	communities, err := demo.CommunityNames()
	if err != nil {
		return res, err
	}
	bodies, err := reportBodies(int64(o.Seed%(1<<62)), o.Iterations*o.Reports, dates.Today(time.Now()), communities)
	if err != nil {
		return res, err
	}
	r := &runner{o: o, dir: dir, rng: rng, bodies: bodies, chk: newChecker(dir), res: &res, nonce: rng.Uint32(), kill: kill}
	start := time.Now()
	if err := r.lives(ctx); err != nil {
		return res, err
	}
	res.Elapsed = time.Since(start)
	if !kill {
		return res, nil
	}
	err = r.settle(ctx)
	return res, err
}

type runner struct {
	o      Options
	dir    string
	rng    *rand.Rand
	bodies [][]byte
	chk    *checker
	res    *Result
	nonce  uint32
	kill   bool // SIGKILL each life at a random moment; else SIGTERM once its burst is answered

	port   int
	token  string
	next   int   // the next fresh body
	retry  []int // bodies whose phones got no answer: they send again
	groups int   // groups registered
}

// start starts a life, on another port if the last one was taken.
func (r *runner) start(ctx context.Context) (*server, error) {
	return testproc.Retry(3, func() (*server, error) {
		if r.port == 0 {
			ports, err := testproc.FreePorts(1)
			if err != nil {
				return nil, err
			}
			r.port = ports[0]
		}
		s, err := startServer(ctx, r.o.Binary, r.dir, r.port)
		var early *testproc.ExitedEarlyError
		if errors.As(err, &early) {
			r.port = 0
		}
		return s, err
	})
}

// districtToken mints a district admin's token as the README does.
func (r *runner) districtToken(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, r.o.Binary, "token", "--role", "district_admin", "--data-dir", r.dir).Output()
	if err != nil {
		return fmt.Errorf("crashtest: gridcode token: %w", err)
	}
	r.token = strings.TrimSpace(string(out))
	return nil
}

// recover waits for the started refreshes the last kill cut off: the
// server resumes the day's run on start.
func (r *runner) recover(ctx context.Context, s *server) {
	for _, run := range r.chk.runs {
		if run.completed || run.abandoned {
			continue
		}
		p, err := s.waitRefresh(ctx, r.token, run.date, refreshWaitTimeout)
		// A run that does not complete in one wait is reported once, not
		// waited for in every life after.
		run.abandoned = err != nil || p.Done != p.Groups || len(p.Failed) > 0
		switch {
		case err != nil:
			r.res.problem("refresh of %s after a restart: %v", run.date, err)
		case p.Done != p.Groups || len(p.Failed) > 0:
			r.res.problem("refresh of %s after a restart: %d of %d groups done, failed %v", run.date, p.Done, p.Groups, p.Failed)
		default:
			run.completed = true
			r.res.RefreshesCompleted++
		}
	}
}

// refreshNow says whether this life asks for a refresh, and of which day:
// today's, once the server's clock is past its 06:00 run. Before it the
// server does not resume a run on start (see the package doc).
func (r *runner) refreshNow(i int) (string, bool) {
	if r.o.RefreshEvery < 0 || i%r.o.RefreshEvery != r.o.RefreshEvery/2 {
		return "", false
	}
	now := time.Now()
	today := dates.Today(now)
	if start, _ := dates.Start(today); now.Before(start.Add(local.RefreshAt)) {
		r.res.RefreshNote = "no refresh asked for: before 06:00 district time the local server does not resume an interrupted run"
		return "", false
	}
	return today, true
}

func (r *runner) lives(ctx context.Context) error {
	var lives []time.Duration
	defer func() {
		if len(lives) > 0 {
			slices.Sort(lives)
			r.res.LifeMedian = lives[len(lives)/2]
		}
	}()
	for i := range r.o.Iterations {
		if err := ctx.Err(); err != nil {
			return err
		}
		born := time.Now()
		s, err := r.start(ctx)
		if err != nil {
			return err
		}
		if r.token == "" {
			if err := r.districtToken(ctx); err != nil {
				s.kill()
				return err
			}
		}
		r.recover(ctx, s)

		date, refreshing := r.refreshNow(i)
		if refreshing {
			for range r.o.RefreshGroups {
				if _, err := s.registerGroup(ctx, r.token, r.nonce, r.groups, r.o.GroupMembers); err != nil {
					s.kill()
					return fmt.Errorf("crashtest: %w\n%s", err, s.out)
				}
				r.groups++
			}
		}
		// The server allows 30 reports a minute from one address, and each
		// life is a new process: a life sends at most maxPerLife.
		carried := max(0, min(len(r.retry), maxPerLife-r.o.Reports))
		idx := append(r.retry[:carried:carried], r.fresh(maxPerLife-carried)...)
		r.retry = r.retry[carried:]
		burst := &burstResult{acked: map[int]string{}, refused: map[int]int{}}
		// A refresh of a few new groups takes tens of milliseconds: in its
		// lives the kill comes early, to land in the run as often as not.
		window := r.o.MaxKillDelay
		if refreshing {
			window /= 4
		}
		delay := time.Duration(r.rng.Int64N(int64(window) + 1))

		burstCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		var posted time.Time
		var runID string
		go func() {
			defer close(done)
			s.postReports(burstCtx, r.bodies, idx, r.o.Clients, burst)
		}()
		postDone := make(chan struct{})
		if refreshing {
			posted = time.Now()
			go func() {
				defer close(postDone)
				if code, id, err := s.runRefresh(burstCtx, r.token, date); err == nil && code == http.StatusAccepted {
					runID = id
				}
			}()
		} else {
			close(postDone)
		}
		if r.kill {
			time.Sleep(delay)
		} else {
			<-done
			<-postDone
		}
		if dead, why := s.died(); dead {
			cancel()
			return fmt.Errorf("crashtest: the server died on its own in life %d: %s", i, why)
		}
		if burst.inflight.Load() > 0 {
			r.res.KillsMidIntake++
		}
		if r.kill {
			s.kill()
		} else {
			s.stop(10 * time.Second)
		}
		<-done
		<-postDone
		cancel()
		r.res.Iterations++

		r.res.Reports += burst.sent
		var acked []string
		for _, b := range idx {
			if id, ok := burst.acked[b]; ok {
				if r.chk.ack(id) {
					r.res.Acked++
				}
				acked = append(acked, id)
			} else if code, ok := burst.refused[b]; ok && code != http.StatusTooManyRequests {
				r.res.Refused++
				r.res.problem("a report was answered %d", code)
			} else {
				if ok {
					r.res.RateLimited++
				}
				r.retry = append(r.retry, b) // the phone tries again
			}
		}
		if r.o.afterKill != nil {
			if err := r.o.afterKill(r.dir, acked); err != nil {
				return err
			}
		}
		if err := r.chk.afterKill(ctx, r.res, date, posted, runID); err != nil {
			return fmt.Errorf("crashtest: check after kill %d: %w", i, err)
		}
		lives = append(lives, time.Since(born))
		if (i+1)%20 == 0 || i+1 == r.o.Iterations {
			end := "kills"
			if !r.kill {
				end = "lives ended by SIGTERM"
			}
			fmt.Fprintf(r.o.Log, "crashtest: %d %s, %d reports acknowledged, %d lost, %d refreshes started, %d in the send window\n",
				r.res.Iterations, end, r.res.Acked, r.res.LostReports+r.res.LostAlerts, r.res.RefreshesStarted, r.res.SendWindow)
		}
	}
	return nil
}

// maxPerLife keeps a life's reports under the server's limit per address.
const maxPerLife = 25

// fresh takes the next burst's new bodies, at most limit.
func (r *runner) fresh(limit int) []int {
	n := min(r.o.Reports, limit, len(r.bodies)-r.next)
	idx := make([]int, n)
	for k := range idx {
		idx[k] = r.next + k
	}
	r.next += n
	return idx
}

// settle restarts the server after the last kill, lets it finish the
// refresh and deliver, stops it gracefully and checks everything.
func (r *runner) settle(ctx context.Context) error {
	start := time.Now()
	s, err := r.start(ctx)
	if err != nil {
		return err
	}
	r.recover(ctx, s)
	deadline := time.Now().Add(r.o.SettleTimeout)
	for {
		pending, err := s.pendingSMS(ctx, r.token)
		if err != nil {
			s.kill()
			return fmt.Errorf("crashtest: settle: %w", err)
		}
		if pending == 0 || !r.o.SettleAll && pending <= r.chk.held || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			s.kill()
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	s.stop(10 * time.Second)
	r.res.Settle = time.Since(start)
	return r.chk.final(ctx, r.res)
}

// reportBodies are n distinct reports as the bench sends them.
func reportBodies(seed int64, n int, today string, communities []string) ([][]byte, error) {
	subs := gen.Reports(seed, n, today, communities, 0)
	out := make([][]byte, len(subs))
	for i, s := range subs {
		b, err := json.Marshal(s)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}
