// Package alert holds the SMS outbox: alerts written in the same
// transaction as the fact that causes them, and the registered templates
// they are sent with.
package alert

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
)

// Status of an alert in the outbox.
type Status string

const (
	Pending Status = "pending"
	Sent    Status = "sent"
	Failed  Status = "failed"
)

// Alert is one message to one recipient. The phone is sealed; only its
// keyed hash is readable by the store.
type Alert struct {
	ID              string            `json:"alertId"`
	Template        string            `json:"template"`
	Params          map[string]string `json:"params"`
	RecipientLookup string            `json:"recipientLookup"`
	RecipientSealed []byte            `json:"recipientSealed"`
	ReportID        string            `json:"reportId,omitempty"`
	GridCode        string            `json:"gridCode"`
	Status          Status            `json:"status"`
	CreatedAt       time.Time         `json:"createdAt"`
	ExpiresAt       int64             `json:"expiresAt"`
}

// Signature is the district's registered SMS signature; it counts towards
// the message length.
const Signature = "【蓬江防疫】"

// SegmentLimit is the length of one UCS-2 SMS segment. Every template here
// fits one segment so that a message is never split or billed twice.
const SegmentLimit = 70

// Template is an SMS template registered in advance with the carrier; only
// the {name} parameters vary.
type Template struct {
	Code string
	Text string
}

// ReportWelcome goes to every arrival who reports.
var ReportWelcome = Template{
	Code: "GC_REPORT_WELCOME",
	Text: Signature + "欢迎来(返)蓬江!已收到您的报备,请{action}。社区工作人员将与您联系。",
}

var (
	ErrMissingParam = errors.New("alert: template parameter missing")
	ErrTooLong      = errors.New("alert: message exceeds one SMS segment")
)

// Render fills the template and checks that the message fits one segment.
func (t Template) Render(params map[string]string) (string, error) {
	var b strings.Builder
	rest := t.Text
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			b.WriteString(rest)
			break
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			b.WriteString(rest)
			break
		}
		name := rest[open+1 : open+end]
		v, ok := params[name]
		if !ok || v == "" {
			return "", fmt.Errorf("%w: %s", ErrMissingParam, name)
		}
		b.WriteString(rest[:open])
		b.WriteString(v)
		rest = rest[open+end+1:]
	}
	msg := b.String()
	if n := Length(msg); n > SegmentLimit {
		return "", fmt.Errorf("%w: %d characters", ErrTooLong, n)
	}
	return msg, nil
}

// Length counts a message as the carrier does: UCS-2 code units, so a
// character outside the BMP counts twice.
func Length(msg string) int { return len(utf16.Encode([]rune(msg))) }
