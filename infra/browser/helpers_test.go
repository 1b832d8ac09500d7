package browser

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gridcode/shared/dates"
	"gridcode/shared/idcard"
)

// Helpers shared by the page tests.

// textBody is a request body sent as it is, with its content type (a CSV
// list, say), where apiCall would otherwise send JSON.
type textBody struct{ contentType, text string }

// apiCall calls the local system's API from Go as a client would: body is
// sent as JSON (or as it is, for a textBody; nil sends none), token as a
// bearer token unless empty, and a 2xx answer is decoded into out unless
// out is nil. It returns the status.
func apiCall(t testing.TB, srv *Server, method, path, token string, body, out any) int {
	t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case textBody:
		rd, ctype = strings.NewReader(b.text), b.contentType
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd, ctype = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if out != nil && res.StatusCode/100 == 2 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode: %v in %s", method, path, err, raw)
		}
	}
	return res.StatusCode
}

// getJSON GETs path with token (none if empty) and decodes the answer
// into out, failing the test unless it is 200 OK.
func getJSON(t testing.TB, srv *Server, path, token string, out any) {
	t.Helper()
	if code := apiCall(t, srv, http.MethodGet, path, token, nil, out); code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, http.StatusText(code))
	}
}

// gridInfo is a grid as GET /v1/grids lists it.
type gridInfo struct{ GridCode, Name, Community, Town string }

// listGrids is GET /v1/grids: the district's grids, in the API's order.
func listGrids(t testing.TB, srv *Server) []gridInfo {
	t.Helper()
	var grids []gridInfo
	getJSON(t, srv, "/v1/grids", "", &grids)
	return grids
}

// newReport is a report as the form posts it: someone arrived today (or
// on Date) from From, with one stop, in Stop (From if empty).
type newReport struct {
	Name, ID17, Phone string // ID17: the resident ID's first 17 digits
	From, Stop, Date  string
	Community         string // of the destination; none if empty
	Address           string
	Transport         string
}

// reportReceipt is the API's answer to a report.
type reportReceipt struct {
	ReportID  string `json:"reportId"`
	GridCode  string `json:"gridCode"`
	RiskLevel string `json:"riskLevel"`
}

// submitReport posts r to a grid as its QR code's form does, failing the
// test unless the report is stored in that grid.
func submitReport(t testing.TB, srv *Server, gridCode string, r newReport) reportReceipt {
	t.Helper()
	day := r.Date
	if day == "" {
		day = dates.Today(time.Now())
	}
	stop := r.Stop
	if stop == "" {
		stop = r.From
	}
	dest := map[string]string{"address": r.Address}
	if r.Community != "" {
		dest["community"] = r.Community
	}
	body := map[string]any{
		"name": r.Name, "idType": "resident_id", "idNumber": residentID(r.ID17), "phone": r.Phone,
		"arrivalStatus": "arrived", "arrivalDate": day, "fromAreaCode": r.From,
		"itinerary":   []map[string]string{{"areaCode": stop, "date": day}},
		"destination": dest,
		"transport":   r.Transport,
	}
	var receipt reportReceipt
	if code := apiCall(t, srv, http.MethodPost, "/v1/grids/"+gridCode+"/reports", "", body, &receipt); code != http.StatusCreated || receipt.GridCode != gridCode {
		t.Fatalf("submit %s to %s: %d %+v", r.Name, gridCode, code, receipt)
	}
	return receipt
}

// residentID makes a valid resident ID number from its first 17 digits.
func residentID(first17 string) string {
	return first17 + string(idcard.CheckDigit(first17))
}

// wrongCheckDigit is id with another check character.
func wrongCheckDigit(id string) string {
	last := "0"
	if id[17] == '0' {
		last = "1"
	}
	return id[:17] + last
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // a string always marshals
	}
	return string(b)
}

// shotsFromTop takes the screenshots from the top of the page, where a
// person starts: the sticky bar and tabs would otherwise be drawn
// mid-page.
func shotsFromTop(t testing.TB, tab *Tab, name string) {
	t.Helper()
	tab.Do(t, "scroll to the top", chromedp.Evaluate[chromedp.Void]("window.scrollTo(0, 0)"))
	tab.Screenshots(t, name)
}

// eventually calls done until it returns true, for at most limit, and
// reports whether it did.
func eventually(limit time.Duration, done func() bool) bool {
	deadline := time.Now().Add(limit)
	for !done() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// sameDistrictDay skips the test when the page's district day (what
// gc.js's districtDay() gives) is not today, the district day the test
// worked out in Go before the page loaded: a run that crossed 00:00 in
// Asia/Shanghai compares one day's data with another's. Call it once the
// page has loaded.
func sameDistrictDay(t testing.TB, tab *Tab, today string) {
	t.Helper()
	day := Eval[string](t, tab, `new Intl.DateTimeFormat("sv-SE", { timeZone: "Asia/Shanghai" }).format(new Date())`)
	if day != today {
		t.Skipf("the district day changed during the test: %s in Go, %s on the page", today, day)
	}
}
