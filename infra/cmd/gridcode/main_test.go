package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"gridcode/infra/local"
	"gridcode/shared/alert"
	"gridcode/shared/auth"
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
	if err != nil || p.Role != auth.GridWorker || p.Grid != "g1" {
		t.Fatalf("token = %+v, %v", p, err)
	}
	if err := run(context.Background(), []string{"token", "--role", "mayor", "--data-dir", dir}, &out); err == nil {
		t.Fatal("unknown role accepted")
	}
}
