// Package snssms sends alert SMS through Amazon SNS Publish to a phone
// number. SNS takes rendered text, so Message.Text is sent and the template
// code is only for providers that need it.
//
// What SNS Publish actually returns (SDK model, aws-sdk-go-v2/service/sns
// v1.48.0, and reports from production users):
//   - Throttling: "Throttling" ("Rate exceeded", HTTP 400) is what SMS
//     publishing returns when over the account's rate; the modelled
//     ThrottledException has the wire code "Throttled" (HTTP 429).
//   - A bad phone number: "InvalidParameter" (HTTP 400), its message names
//     PhoneNumber and quotes the number. "ParameterValueInvalid" is the
//     wire code of InvalidParameterValueException.
//   - An opted-out number: Publish normally succeeds and the failure shows
//     only in the SMS delivery status logs ("Phone number is opted out").
//     "OptedOut" (OptedOutException) is modelled for the sandbox operations,
//     not for Publish; it is still mapped here in case SNS starts sending it.
//
// So Send asks CheckIfPhoneNumberIsOptedOut before each Publish, and an
// opted-out number is a permanent failure (the grid worker phones instead)
// with nothing published. That costs one extra SNS call per SMS, made
// within the same send slot; a throttled check is retried like a throttled
// Publish. The check answers with the same error codes as Publish (Throttled, InvalidParameter,
// AuthorizationError, InternalError) and its errors are classified alike;
// when the check fails nothing is published.
//
// SNS error messages can quote the phone number, so errors from Send carry
// the SNS error code, never its message.
package snssms

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"

	"gridcode/shared/sms"
)

// API is the part of the SNS client the adapter calls; *sns.Client has it.
type API interface {
	CheckIfPhoneNumberIsOptedOut(ctx context.Context, in *sns.CheckIfPhoneNumberIsOptedOutInput, opts ...func(*sns.Options)) (*sns.CheckIfPhoneNumberIsOptedOutOutput, error)
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Provider sends SMS with SNS Publish.
type Provider struct {
	api API
}

var _ sms.Provider = (*Provider)(nil)

// New returns a Provider publishing with api, normally an *sns.Client built
// once in main.
func New(api API) *Provider {
	return &Provider{api: api}
}

// smsTypeAttr makes SNS route the message for reliability rather than cost:
// an epidemic alert is transactional.
const smsTypeAttr = "AWS.SNS.SMS.SMSType"

// Operations named in errors.
const (
	opCheck   = "opt-out check for alert"
	opPublish = "publish to alert"
)

// Send publishes m.Text to m.To and returns the SNS message id, unless m.To
// has opted out of SMS from this account.
func (p *Provider) Send(ctx context.Context, m sms.Message) (string, error) {
	if m.To == "" || m.Text == "" {
		return "", fmt.Errorf("sns: publish to alert %s: no phone number or no text: %w", m.AlertID, sms.ErrPermanent)
	}
	check, err := p.api.CheckIfPhoneNumberIsOptedOut(ctx, &sns.CheckIfPhoneNumberIsOptedOutInput{PhoneNumber: aws.String(m.To)})
	if err != nil {
		return "", classify(opCheck, m, err)
	}
	if check != nil && check.IsOptedOut {
		e := &sendError{op: opCheck, alertID: m.AlertID, detail: "SNS isOptedOut true",
			reason: "phone number opted out", kind: sms.ErrPermanent}
		if rid, ok := awsmiddleware.GetRequestIDMetadata(check.ResultMetadata); ok && rid != "" {
			e.detail += ", request " + rid
		}
		return "", e
	}
	out, err := p.api.Publish(ctx, &sns.PublishInput{
		PhoneNumber: aws.String(m.To),
		Message:     aws.String(m.Text),
		MessageAttributes: map[string]types.MessageAttributeValue{
			smsTypeAttr: {DataType: aws.String("String"), StringValue: aws.String("Transactional")},
		},
	})
	if err != nil {
		return "", classify(opPublish, m, err)
	}
	// A missing id is not an error: the message went out, and retrying
	// would text the person twice.
	return aws.ToString(out.MessageId), nil
}

// Error codes by what delivery should do about them.
var (
	throttleCodes = map[string]bool{
		"Throttled":           true, // types.ThrottledException
		"Throttling":          true, // what SMS publishing returns, "Rate exceeded"
		"ThrottlingException": true,
		"KMSThrottling":       true,
	}
	permanentCodes = map[string]bool{
		"OptedOut":              true, // types.OptedOutException
		"InvalidParameter":      true, // types.InvalidParameterException, bad phone number
		"ParameterValueInvalid": true, // types.InvalidParameterValueException
		"InvalidParameterValue": true, // the same, as the API reference names it
	}
)

// classify wraps err, from the SNS call op, with sms.ErrThrottled,
// sms.ErrPermanent or neither.
func classify(op string, m sms.Message, err error) error {
	e := &sendError{op: op, alertID: m.AlertID, cause: err}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		// Transport errors, cancelled contexts: retryable. Their text has no
		// request body, but the number is masked in case a future one does.
		e.detail = strings.ReplaceAll(err.Error(), m.To, "<phone>")
		return e
	}
	code, msg := apiErr.ErrorCode(), strings.ToLower(apiErr.ErrorMessage())
	status := 0
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	e.detail = fmt.Sprintf("SNS error %s (HTTP %d)", code, status)
	var rid interface{ ServiceRequestID() string }
	if errors.As(err, &rid) && rid.ServiceRequestID() != "" {
		e.detail += ", request " + rid.ServiceRequestID()
	}
	switch {
	case throttleCodes[code] || status == 429:
		e.kind = sms.ErrThrottled
	case code == "OptedOut" || strings.Contains(msg, "opted out"):
		e.kind, e.reason = sms.ErrPermanent, "phone number opted out"
	case permanentCodes[code] && strings.Contains(msg, "phonenumber"):
		e.kind, e.reason = sms.ErrPermanent, "invalid phone number"
	case permanentCodes[code]:
		e.kind, e.reason = sms.ErrPermanent, "invalid request"
	}
	return e
}

// sendError reports a failed opt-out check or Publish, or an opted-out
// number, without the SNS error message, which can quote the phone number.
// errors.Is finds kind; errors.As finds the SDK error (whose own text may
// hold the number: don't log it).
type sendError struct {
	op      string // opCheck or opPublish
	alertID string
	detail  string // SNS code and HTTP status, or the transport error
	reason  string // why a permanent failure is permanent
	kind    error  // sms.ErrThrottled, sms.ErrPermanent or nil
	cause   error  // the SDK or transport error; nil for an opted-out number
}

func (e *sendError) Error() string {
	s := "sns: " + e.op + " " + e.alertID + ": " + e.detail
	if e.reason != "" {
		s += ": " + e.reason
	}
	if e.kind != nil {
		s += ": " + e.kind.Error()
	}
	return s
}

func (e *sendError) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.kind, e.cause} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
