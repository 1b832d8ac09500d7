package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"gridcode/infra/local"
	"gridcode/shared/alert"
	"gridcode/shared/auth"
	"gridcode/shared/dates"
	"gridcode/shared/refresh"
	"gridcode/shared/secrets"
)

func TestAlertsReplayRequeuesFailed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Now()
	sys, err := local.Open(ctx, dir, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	fail := func(id, reason string) alert.Alert {
		a := alert.Alert{ID: id, Template: alert.GridDigest.Code, RecipientSealed: []byte{1}, Status: alert.Pending, CreatedAt: now}
		if _, err := sys.Store.Enqueue(ctx, a); err != nil {
			t.Fatal(err)
		}
		until := now.Add(time.Minute)
		if _, ok, err := sys.Store.Claim(ctx, a.ID, now, until); err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		if err := sys.Store.Settle(ctx, a.ID, until, alert.Outcome{Status: alert.Failed, Reason: reason, At: now}); err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := fail("digest.g1.a.1", "gave up after 8 attempts: provider down")
	invalid := fail("digest.g1.b.1", "sns: invalid phone number: sms: permanent failure")
	sys.Close()

	var out bytes.Buffer
	if err := run(ctx, []string{"alerts", "replay", "--data-dir", dir}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "replayed 1 of 1") {
		t.Fatalf("output %q", out.String())
	}
	sys, err = local.Open(ctx, dir, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	got, err := sys.Store.Alert(ctx, a.ID)
	if err != nil || got.Status != alert.Pending || got.Attempts != 0 {
		t.Fatalf("after replay = %+v, %v", got, err)
	}
	if got, _ := sys.Store.Alert(ctx, invalid.ID); got.Status != alert.Failed {
		t.Fatalf("a permanent failure was replayed: %+v", got)
	}
}

func TestTokenCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"token", "--role", "grid_worker", "--grid", "g1", "--data-dir", dir}, &out); err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.FromFile(local.KeysFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	issuer, _ := auth.NewIssuer(keys.TokenKey)
	p, err := issuer.Verify(strings.TrimSpace(out.String()), time.Now())
	if err != nil || p.Role != auth.GridWorker || p.FirstGrid() != "g1" {
		t.Fatalf("token = %+v, %v", p, err)
	}
	if err := run(context.Background(), []string{"token", "--role", "mayor", "--data-dir", dir}, &out); err == nil {
		t.Fatal("unknown role accepted")
	}
	// Several grids: the flag repeated, or a comma list, or both.
	out.Reset()
	if err := run(context.Background(), []string{"token", "--role", "grid_worker", "--grid", "g1", "--grid", "g2,g3", "--data-dir", dir}, &out); err != nil {
		t.Fatal(err)
	}
	p, err = issuer.Verify(strings.TrimSpace(out.String()), time.Now())
	if err != nil || !slices.Equal(p.Grids, []string{"g1", "g2", "g3"}) {
		t.Fatalf("token with three grids = %+v, %v", p, err)
	}
}

// `gridcode refresh` builds a day's lists in the data dir, and running it
// again changes nothing.
func TestRefreshCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	sys, err := local.Open(ctx, dir, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sys.Handler)
	office, err := sys.Issuer.Issue(auth.Principal{Subject: "t", Role: auth.DistrictAdmin, Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	post := func(method, path, contentType, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "Bearer "+office)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var g struct{ GroupID string }
		json.NewDecoder(resp.Body).Decode(&g)
		return resp.StatusCode, g.GroupID
	}
	reg := `{"name":"测试便利店","kind":"supermarket","address":"新塘里100号","gridCode":"440703006107-01","admin":{"name":"店长","phone":"13800138001"}}`
	code, id := post("POST", "/v1/groups", "application/json", reg)
	if code != 201 {
		t.Fatalf("register: %d", code)
	}
	roster := "姓名,身份证号码\n张三,11010519491231002X\n"
	if code, _ := post("PUT", "/v1/groups/"+id+"/members", "text/csv", roster); code != 200 {
		t.Fatalf("roster: %d", code)
	}
	groups, err := sys.Store.GroupIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	sys.Close()

	today := dates.Today(time.Now())
	for range 2 {
		var out bytes.Buffer
		if err := run(ctx, []string{"refresh", "--data-dir", dir}, &out); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("refresh %s: %d of %d groups", today, len(groups), len(groups)); !strings.Contains(out.String(), want) {
			t.Fatalf("output %q", out.String())
		}
	}
	err = run(ctx, []string{"refresh", "--data-dir", dir, "--date", dates.AddDays(today, 1)}, io.Discard)
	if !errors.Is(err, refresh.ErrBadDate) {
		t.Fatalf("refreshing tomorrow: %v", err)
	}
	sys, err = local.Open(ctx, dir, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	l, err := sys.Store.DailyList(ctx, id, today)
	if err != nil || l.Summary.Members != 1 || l.Summary.NoData != 1 {
		t.Fatalf("list %+v, %v", l.Summary, err)
	}
	// One morning SMS per group, however often the day is run.
	if n, _ := sys.Store.CountAlerts(ctx); n != len(groups) {
		t.Fatalf("%d alerts after two refreshes of %d groups", n, len(groups))
	}
}
