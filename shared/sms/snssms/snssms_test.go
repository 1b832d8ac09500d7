package snssms_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/google/go-cmp/cmp"

	"gridcode/shared/sms"
	"gridcode/shared/sms/snssms"
)

const phone = "+8613800138000"

// fakeSNS speaks the SNS query protocol: it records each form-encoded
// request and answers CheckIfPhoneNumberIsOptedOut and Publish each with a
// canned status and XML body.
type fakeSNS struct {
	status int    // Publish's
	body   string // Publish's
	// The check's answer; zero values answer "not opted out".
	checkStatus int
	checkBody   string

	mu       sync.Mutex
	requests []url.Values // every request, in order
	form     url.Values   // the last Publish request
	ct       string
}

// notOptedOut is CheckIfPhoneNumberIsOptedOut's answer for a number that may
// be texted; optedOut for one that may not.
const (
	notOptedOut = `<CheckIfPhoneNumberIsOptedOutResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">` +
		`<CheckIfPhoneNumberIsOptedOutResult><isOptedOut>false</isOptedOut></CheckIfPhoneNumberIsOptedOutResult>` +
		`<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></CheckIfPhoneNumberIsOptedOutResponse>`
	optedOut = `<CheckIfPhoneNumberIsOptedOutResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">` +
		`<CheckIfPhoneNumberIsOptedOutResult><isOptedOut>true</isOptedOut></CheckIfPhoneNumberIsOptedOutResult>` +
		`<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></CheckIfPhoneNumberIsOptedOutResponse>`
)

func (f *fakeSNS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	status, body := f.status, f.body
	f.mu.Lock()
	f.requests = append(f.requests, r.PostForm)
	switch r.PostForm.Get("Action") {
	case "CheckIfPhoneNumberIsOptedOut":
		status, body = f.checkStatus, f.checkBody
		if status == 0 {
			status, body = http.StatusOK, notOptedOut
		}
	case "Publish":
		f.form, f.ct = r.PostForm, r.Header.Get("Content-Type")
	default:
		status, body = http.StatusBadRequest, errorBody("InvalidAction", "unexpected action")
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", "req-42")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}

// got returns the last Publish request's form and Content-Type.
func (f *fakeSNS) got() (url.Values, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.form, f.ct
}

// actions returns the Action of every request so far, in order.
func (f *fakeSNS) actions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, form := range f.requests {
		out = append(out, form.Get("Action"))
	}
	return out
}

// request returns the i-th request's form, flattened.
func (f *fakeSNS) request(i int) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	got := map[string]string{}
	if i < len(f.requests) {
		for k, v := range f.requests[i] {
			got[k] = strings.Join(v, ",")
		}
	}
	return got
}

func newProvider(t *testing.T, f *fakeSNS) *snssms.Provider {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	client := sns.New(sns.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint:     aws.String(srv.URL),
		RetryMaxAttempts: 1,
	})
	return snssms.New(client)
}

func errorBody(code, msg string) string {
	return `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type>` +
		`<Code>` + code + `</Code><Message>` + msg + `</Message></Error>` +
		`<RequestId>9b2f7a4e-0000-4000-8000-000000000001</RequestId></ErrorResponse>`
}

func TestSendRequest(t *testing.T) {
	t.Parallel()
	f := &fakeSNS{status: 200, body: `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">` +
		`<PublishResult><MessageId>msg-123</MessageId></PublishResult>` +
		`<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></PublishResponse>`}
	p := newProvider(t, f)

	text := "【网格通知】您所在楼栋3单元今日14:00核酸检测，请携带身份证。"
	id, err := p.Send(context.Background(), sms.Message{
		AlertID: "A1", To: phone, Template: "SMS_1", Text: text, Segments: 1,
	})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if id != "msg-123" {
		t.Errorf("message id = %q, want msg-123", id)
	}
	form, ct := f.got()
	if !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		t.Errorf("Content-Type = %q, want form-encoded (awsQuery)", ct)
	}
	want := map[string]string{
		"Action":                         "Publish",
		"Version":                        "2010-03-31",
		"PhoneNumber":                    phone,
		"Message":                        text,
		"MessageAttributes.entry.1.Name": "AWS.SNS.SMS.SMSType",
		"MessageAttributes.entry.1.Value.DataType":    "String",
		"MessageAttributes.entry.1.Value.StringValue": "Transactional",
	}
	got := map[string]string{}
	for k, v := range form {
		got[k] = strings.Join(v, ",")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request form (-want +got):\n%s", diff)
	}
	// The opt-out check comes first, for the same number, and alone.
	if diff := cmp.Diff([]string{"CheckIfPhoneNumberIsOptedOut", "Publish"}, f.actions()); diff != "" {
		t.Errorf("request actions (-want +got):\n%s", diff)
	}
	wantCheck := map[string]string{
		"Action":      "CheckIfPhoneNumberIsOptedOut",
		"Version":     "2010-03-31",
		"phoneNumber": phone,
	}
	if diff := cmp.Diff(wantCheck, f.request(0)); diff != "" {
		t.Errorf("opt-out check form (-want +got):\n%s", diff)
	}
}

// A failed or refusing opt-out check publishes nothing and is classified
// like a Publish error.
func TestSendCheckFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		status        int
		body          string
		wantThrottled bool
		wantPermanent bool
		wantText      string // a part the error text must have
	}{
		{"opted out", 200, optedOut, false, true, "phone number opted out"},
		{"throttled exception", 429, errorBody("Throttled", "Throttled request."), true, false, "Throttled"},
		{"throttling rate exceeded", 400, errorBody("Throttling", "Rate exceeded"), true, false, "Throttling"},
		{"invalid phone", 400, errorBody("InvalidParameter", "Invalid parameter: phoneNumber Reason: "+phone+" is not valid"), false, true, "invalid phone number"},
		{"internal error", 500, errorBody("InternalError", "boom for "+phone), false, false, "InternalError"},
		{"auth error", 403, errorBody("AuthorizationError", "not authorized to check "+phone), false, false, "AuthorizationError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeSNS{status: 500, body: errorBody("InternalError", "must not publish"), checkStatus: tt.status, checkBody: tt.body}
			p := newProvider(t, f)
			_, err := p.Send(context.Background(), sms.Message{AlertID: "A6", To: phone, Text: "hi"})
			if err == nil {
				t.Fatal("Send: no error")
			}
			if diff := cmp.Diff([]string{"CheckIfPhoneNumberIsOptedOut"}, f.actions()); diff != "" {
				t.Errorf("request actions (-want +got), want no Publish:\n%s", diff)
			}
			checkSendError(t, err, tt.wantThrottled, tt.wantPermanent, "opt-out check for alert A6", "request req-42", tt.wantText)
		})
	}
}

// checkSendError checks how an error is classified, that its text has
// each part, and that it never carries the phone number.
func checkSendError(t *testing.T, err error, throttled, permanent bool, parts ...string) {
	t.Helper()
	if got := errors.Is(err, sms.ErrThrottled); got != throttled {
		t.Errorf("errors.Is(ErrThrottled) = %v, want %v (err %v)", got, throttled, err)
	}
	if got := errors.Is(err, sms.ErrPermanent); got != permanent {
		t.Errorf("errors.Is(ErrPermanent) = %v, want %v (err %v)", got, permanent, err)
	}
	msg := err.Error()
	if strings.Contains(msg, phone) || strings.Contains(msg, strings.TrimPrefix(phone, "+")) {
		t.Errorf("error text has the phone number: %q", msg)
	}
	for _, part := range parts {
		if !strings.Contains(msg, part) {
			t.Errorf("error text %q lacks %q", msg, part)
		}
	}
}

func TestSendErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		status        int
		body          string
		wantThrottled bool
		wantPermanent bool
		wantText      string // a part the error text must have
	}{
		{"throttling rate exceeded", 400, errorBody("Throttling", "Rate exceeded"), true, false, "Throttling"},
		{"throttled exception", 429, errorBody("Throttled", "Throttled request."), true, false, "Throttled"},
		{"throttling exception code", 400, errorBody("ThrottlingException", "slow down"), true, false, "ThrottlingException"},
		{"any 429", 429, errorBody("SomethingNew", "too many"), true, false, "HTTP 429"},
		{"opted out code", 400, errorBody("OptedOut", "Phone number "+phone+" is opted out"), false, true, "opted out"},
		{"opted out message", 400, errorBody("InvalidParameter", "Invalid parameter: PhoneNumber Reason: "+phone+" has opted out"), false, true, "opted out"},
		{"invalid phone", 400, errorBody("InvalidParameter", "Invalid parameter: PhoneNumber Reason: "+phone+" is not valid to publish to"), false, true, "invalid phone number"},
		{"parameter value invalid", 400, errorBody("ParameterValueInvalid", "bad attribute"), false, true, "invalid request"},
		{"internal error", 500, errorBody("InternalError", "boom for "+phone), false, false, "InternalError"},
		{"auth error", 403, errorBody("AuthorizationError", "denied"), false, false, "AuthorizationError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newProvider(t, &fakeSNS{status: tt.status, body: tt.body})
			_, err := p.Send(context.Background(), sms.Message{AlertID: "A7", To: phone, Text: "hi"})
			if err == nil {
				t.Fatal("Send: no error")
			}
			checkSendError(t, err, tt.wantThrottled, tt.wantPermanent, "publish to alert A7", "request req-42", tt.wantText)
		})
	}
}

func TestSendTransportError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens: the request fails before SNS answers
	p := snssms.New(sns.New(sns.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint:     aws.String(url),
		RetryMaxAttempts: 1,
	}))
	_, err := p.Send(context.Background(), sms.Message{AlertID: "A8", To: phone, Text: "hi"})
	if err == nil {
		t.Fatal("Send: no error")
	}
	if errors.Is(err, sms.ErrThrottled) || errors.Is(err, sms.ErrPermanent) {
		t.Errorf("transport error classified as throttled/permanent: %v", err)
	}
	if strings.Contains(err.Error(), phone) {
		t.Errorf("error text has the phone number: %q", err)
	}
	if !strings.Contains(err.Error(), "opt-out check for alert A8") {
		t.Errorf("error text %q does not say the opt-out check failed", err)
	}
}

func TestSendRejectsEmpty(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		m    sms.Message
	}{
		{"no phone", sms.Message{AlertID: "A9", Text: "hi"}},
		{"no text", sms.Message{AlertID: "A9", To: phone}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeSNS{status: 500}
			p := newProvider(t, f)
			_, err := p.Send(context.Background(), tt.m)
			if !errors.Is(err, sms.ErrPermanent) {
				t.Errorf("err = %v, want ErrPermanent", err)
			}
			if got := f.actions(); got != nil {
				t.Errorf("called SNS anyway: %v", got)
			}
		})
	}
}
