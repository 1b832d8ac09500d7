package local

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	"gridcode/shared/auth"
	"gridcode/shared/dates"
)

// from sends a JSON POST over a connection from the local address ip (any
// of 127.0.0.0/8 on Linux): another client address, as the server sees it.
func (e *env) from(ip, path string, body any) (int, http.Header, []byte) {
	e.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		e.t.Fatal(err)
	}
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatalf("POST %s from %s: %v", path, ip, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

// wantLimited checks a 429 as every limit answers it: Retry-After in whole
// seconds and {"error":"rate_limited"}.
func wantLimited(t *testing.T, what string, status int, h http.Header, body []byte, retryAfter string) {
	t.Helper()
	var got apiError
	if status != http.StatusTooManyRequests || json.Unmarshal(body, &got) != nil || got.Error != "rate_limited" || len(got.Fields) != 0 {
		t.Fatalf("%s: %d %s, want 429 {\"error\":\"rate_limited\"}", what, status, body)
	}
	if ra := h.Get("Retry-After"); ra != retryAfter {
		t.Errorf("%s: Retry-After %q, want %q", what, ra, retryAfter)
	}
}

// personReport is a report of person i arriving on the test's day.
func personReport(i int) map[string]any {
	s := submission()
	s["idNumber"] = residentID(fmt.Sprintf("44070319900101%03d", i))
	return s
}

// TestReportsLimitedPerAddress: the cloud's default limit of 30 reports a
// minute from one address, through both report routes together: the 31st
// gets 429 and stores nothing, and so does a bad request over it (the
// address limit comes before the body); another address still reports.
// The test's clock stands at 10:00:00, the start of a window, so the wait
// is the whole minute.
func TestReportsLimitedPerAddress(t *testing.T) {
	t.Parallel()
	e := start(t)
	const ip, other = "127.0.0.2", "127.0.0.3"
	for i := range 30 {
		path := "/v1/reports"
		if i%2 == 1 {
			path = "/v1/grids/" + demoGrid + "/reports"
		}
		if status, _, body := e.from(ip, path, personReport(i)); status != http.StatusCreated {
			t.Fatalf("report %d: %d %s", i+1, status, body)
		}
	}
	stored := e.alerts()
	status, h, body := e.from(ip, "/v1/reports", personReport(30))
	wantLimited(t, "the 31st report", status, h, body, "60")
	status, h, body = e.from(ip, "/v1/grids/"+demoGrid+"/reports", map[string]any{"name": 5})
	wantLimited(t, "a bad request over the limit", status, h, body, "60")
	if n := e.alerts(); n != stored || n != 30 {
		t.Fatalf("%d reports stored after the refusals, want 30", n)
	}
	if status, _, body := e.from(other, "/v1/reports", personReport(30)); status != http.StatusCreated {
		t.Fatalf("another address: %d %s, want 201", status, body)
	}
}

// TestReportsLimitedPerPerson: 5 new reports an hour per person, whatever
// the address: the 6th arrival of one ID gets 429 from a fresh address,
// stores nothing, and counts for nothing; the same person's report sent
// again is still answered 200 with the first; another person is not held
// up.
func TestReportsLimitedPerPerson(t *testing.T) {
	t.Parallel()
	e := start(t)
	today := dates.Today(testNow)
	arrival := func(daysBack int) map[string]any {
		s := submission()
		s["arrivalDate"] = dates.AddDays(today, -daysBack)
		s["itinerary"] = []map[string]string{}
		return s
	}
	var first receipt
	for i := range 5 {
		status, _, body := e.from(fmt.Sprintf("127.0.1.%d", i+1), "/v1/reports", arrival(i))
		if status != http.StatusCreated {
			t.Fatalf("arrival %d: %d %s", i+1, status, body)
		}
		if i == 0 {
			if err := json.Unmarshal(body, &first); err != nil {
				t.Fatal(err)
			}
		}
	}
	status, h, body := e.from("127.0.1.6", "/v1/grids/"+demoGrid+"/reports", arrival(5))
	wantLimited(t, "the 6th arrival of one person", status, h, body, "3600")
	if n := e.alerts(); n != 5 {
		t.Fatalf("%d reports stored, want 5", n)
	}

	var again receipt
	status, _, body = e.from("127.0.1.7", "/v1/reports", arrival(0))
	if status != http.StatusOK || json.Unmarshal(body, &again) != nil || !again.Duplicate || again.ReportID != first.ReportID {
		t.Fatalf("the first arrival sent again over the limit: %d %s, want 200 with report %s", status, body, first.ReportID)
	}
	if status, _, body := e.from("127.0.1.8", "/v1/reports", personReport(1)); status != http.StatusCreated {
		t.Fatalf("another person: %d %s", status, body)
	}
	if n := e.alerts(); n != 6 {
		t.Fatalf("%d reports stored, want 6", n)
	}
}

// TestJoinsLimited: the public self-join, 30 a minute per address and 10
// an hour per person; refused joins leave nothing pending.
func TestJoinsLimited(t *testing.T) {
	t.Parallel()
	e := start(t)
	office := e.token(auth.DistrictAdmin, "")
	var groups struct {
		Groups []struct{ GroupID string }
	}
	if code := e.send("GET", "/v1/grids/"+demoGrid+"/groups", office, nil, &groups); code != 200 || len(groups.Groups) == 0 {
		t.Fatalf("demo groups: %d %+v", code, groups)
	}
	id := groups.Groups[0].GroupID
	join := "/v1/groups/" + id + "/join"
	pending := func() int {
		var roster struct{ Pending []struct{ MemberID string } }
		if code := e.send("GET", "/v1/groups/"+id+"/members", office, nil, &roster); code != 200 {
			t.Fatalf("roster: %d", code)
		}
		return len(roster.Pending)
	}
	before := pending()
	joiner := func(i int) map[string]string {
		return map[string]string{"name": "赵六", "idNumber": residentID(fmt.Sprintf("44070319780707%03d", i))}
	}

	// One person, from ten addresses: the 11th is refused.
	for i := range 10 {
		if status, _, body := e.from(fmt.Sprintf("127.0.2.%d", i+1), join, joiner(0)); status != http.StatusAccepted {
			t.Fatalf("join %d of one person: %d %s", i+1, status, body)
		}
	}
	status, h, body := e.from("127.0.2.11", join, joiner(0))
	wantLimited(t, "the 11th join of one person", status, h, body, "3600")

	// One address, many people: the 31st is refused.
	for i := range 30 {
		if status, _, body := e.from("127.0.3.1", join, joiner(i+1)); status != http.StatusAccepted {
			t.Fatalf("join %d from one address: %d %s", i+1, status, body)
		}
	}
	status, h, body = e.from("127.0.3.1", join, joiner(31))
	wantLimited(t, "the 31st join from one address", status, h, body, "60")
	if got := pending() - before; got != 31 {
		t.Errorf("%d new pending joins, want 31 (one person, and 30 people; none of the refused)", got)
	}
}
