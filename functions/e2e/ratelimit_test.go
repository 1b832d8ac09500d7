package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"gridcode/shared/dates"
	"gridcode/shared/ratelimit"
)

// rateLimitsTable creates a counters table for the functions' abuse limits
// (as template.yaml's RateLimitsTable) and returns its name.
func (s *system) rateLimitsTable(ctx context.Context, t *testing.T) string {
	t.Helper()
	name := "ratelimits-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := s.db.CreateTable(ctx, ratelimit.CountersTableSpec(name)); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if _, err := s.db.UpdateTimeToLive(ctx, ratelimit.TimeToLive(name)); err != nil {
		t.Fatalf("ttl on %s: %v", name, err)
	}
	s.rateLimits = name
	return name
}

// from is the event of r as API Gateway hands it on for a client at
// sourceIP, with an X-Forwarded-For the client wrote itself.
func (s *system) from(t *testing.T, r request, sourceIP string) []byte {
	t.Helper()
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(s.event(t, r), &ev); err != nil {
		t.Fatal(err)
	}
	ev.RequestContext.HTTP.SourceIP = sourceIP
	ev.Headers["x-forwarded-for"] = "198.51.100.99, " + sourceIP
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestIntakeRateLimits runs the intake binary under the emulator as
// TestEndToEnd starts it, with template.yaml's limits counted in DynamoDB
// Local: 30 reports per sourceIp (a minute in the template, an hour here) (a forged X-Forwarded-For changes
// nothing) and 5 an hour per person (across addresses). Refused requests
// store nothing, a resubmission over the person's limit is still answered
// with its report, and the counters hold no ID number.
func TestIntakeRateLimits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := start(ctx, t)
	s.testRateLimits(ctx, t)
}

func (s *system) testRateLimits(ctx context.Context, t *testing.T) {
	// The limits' windows are the wall clock's hours (the address limit
	// given as 30 an hour here): start with enough of the hour left for
	// the requests below.
	if left := time.Until(time.Now().Truncate(time.Hour).Add(time.Hour)); left < 2*time.Minute {
		time.Sleep(left)
	}

	person := func(i int) string { return residentID("4407031990010" + strconv.Itoa(1000+i)) }
	arriving := func(idNumber string, daysBack int) request {
		day := dates.AddDays(s.today, -daysBack)
		return request{Route: "POST /v1/reports", Body: s.fill(t, "report.json", map[string]string{
			"idNumber": idNumber, "phone": phoneTyped1, "community": "石冲社区",
			"arrivalDate": day, "dayBefore": dates.AddDays(day, -1),
		})}
	}
	send := func(r request, ip string) response {
		t.Helper()
		return s.invokeEvent(ctx, t, s.intake, s.from(t, r, ip))
	}
	limited := func(what string, resp response) {
		t.Helper()
		var body errorBody
		resp.want(t, http.StatusTooManyRequests, &body)
		wait, err := strconv.Atoi(resp.header("Retry-After"))
		if body.Error != "rate_limited" || err != nil || wait < 1 || wait > 3600 {
			t.Errorf("%s: error %q, Retry-After %q; want rate_limited and 1..3600 seconds", what, body.Error, resp.header("Retry-After"))
		}
	}

	// One address: 30 reports, the 31st refused; another address goes on.
	for i := range 30 {
		var r receipt
		send(arriving(person(i), 0), "203.0.113.10").want(t, http.StatusCreated, &r)
	}
	rows := s.rows(ctx, t)
	limited("31st report from one address", send(arriving(person(30), 0), "203.0.113.10"))
	if got := s.rows(ctx, t); got != rows || rows != [2]int{30, 30} {
		t.Fatalf("reports, alerts = %v after the refusal, want [30 30]", got)
	}
	var other receipt
	send(arriving(person(30), 0), "203.0.113.11").want(t, http.StatusCreated, &other)

	// One person from six addresses: the sixth arrival refused, the first
	// sent again still answered.
	var first receipt
	for i := range 5 {
		var r receipt
		send(arriving(person(99), i), "198.51.100."+strconv.Itoa(i+1)).want(t, http.StatusCreated, &r)
		if i == 0 {
			first = r
		}
	}
	rows = s.rows(ctx, t)
	limited("6th arrival of one person", send(arriving(person(99), 5), "198.51.100.6"))
	if got := s.rows(ctx, t); got != rows {
		t.Fatalf("reports, alerts = %v after the refusal, were %v", got, rows)
	}
	var again receipt
	send(arriving(person(99), 0), "198.51.100.7").want(t, http.StatusOK, &again)
	if !again.Duplicate || again.ReportID != first.ReportID {
		t.Errorf("resubmission over the limit: %+v, want report %s as a duplicate", again, first.ReportID)
	}

	// The counters: by address and by person key, never the ID number.
	out, err := s.db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(s.rateLimits), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	var addresses, persons int
	for _, item := range out.Items {
		for _, i := range []int{0, 1, 29, 30, 99} {
			s.checkNoPersonalData(t, "counter item", item, person(i), phoneNumber1)
		}
		raw, _ := json.Marshal(item)
		switch {
		case strings.Contains(string(raw), "reports-per-address#"):
			addresses++
		case strings.Contains(string(raw), "reports-per-person#"):
			persons++
		}
	}
	// 203.0.113.10, .11 and 198.51.100.1-7; persons 0-30 and 99.
	if addresses != 9 || persons != 32 {
		t.Errorf("%d address counters and %d person counters, want 9 and 32", addresses, persons)
	}
}
