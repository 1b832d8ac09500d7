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
	"unicode/utf8"

	"gridcode/shared/pii"
)

// Status of an alert in the outbox.
type Status string

// An alert is pending until a sender claims it (sending), then sent or
// failed for good; a send that may succeed later goes back to pending.
const (
	Pending Status = "pending"
	Sending Status = "sending"
	Sent    Status = "sent"
	Failed  Status = "failed"
)

// Alert is one message to one recipient, and its delivery record. The
// phone is sealed; only its keyed hash is readable by the store.
type Alert struct {
	ID       string            `json:"alertId"`
	Template string            `json:"template"`
	Params   map[string]string `json:"params,omitempty"`
	// ParamsSealed replaces Params for a Sensitive template: the alert
	// table then holds no one's health status in the clear.
	ParamsSealed    []byte    `json:"paramsSealed,omitempty"`
	RecipientLookup string    `json:"recipientLookup"`
	RecipientSealed []byte    `json:"recipientSealed"`
	ReportID        string    `json:"reportId,omitempty"`
	GridCode        string    `json:"gridCode"`
	Status          Status    `json:"status"`
	CreatedAt       time.Time `json:"createdAt"`
	ExpiresAt       int64     `json:"expiresAt"`

	Attempts     int        `json:"attempts,omitempty"`
	NotBefore    int64      `json:"notBefore,omitempty"`    // unix ms: a retry waits until then
	ClaimedUntil int64      `json:"claimedUntil,omitempty"` // unix ms: the sender's lease
	MessageID    string     `json:"messageId,omitempty"`    // the provider's, once sent
	Reason       string     `json:"reason,omitempty"`       // why it failed, or why the last try did
	SettledAt    *time.Time `json:"settledAt,omitempty"`
}

// Signature is the district's registered SMS signature; it counts towards
// the message length.
const Signature = "【蓬江防疫】"

// SegmentLimit is the length of one UCS-2 SMS segment. Every template here
// fits one segment so that a message is never split or billed twice.
const SegmentLimit = 70

// Template is an SMS template registered in advance with the carrier; only
// the {name} parameters vary, each up to its registered length.
type Template struct {
	Code     string
	Text     string
	Params   map[string]int // parameter -> longest value, in characters
	Segments int            // segments the longest message takes
	// Sensitive parameters tell someone's health: they are stored sealed.
	Sensitive bool
}

// ReportWelcome goes to every arrival who reports.
var ReportWelcome = Template{
	Code:     "GC_REPORT_WELCOME",
	Text:     Signature + "欢迎来(返)蓬江!已收到您的报备,请{action}。社区工作人员将与您联系。",
	Params:   map[string]int{"action": 33},
	Segments: 1,
}

// GridDigest tells a grid worker what came in for their grid since the
// last digest: at most one per worker per digest window.
var GridDigest = Template{
	Code:     "GC_GRID_DIGEST",
	Text:     Signature + "网格{grid}新增报备{new}人(高风险{high}人),待跟进{calls}人,请及时处理",
	Params:   map[string]int{"grid": 16, "new": 5, "high": 5, "calls": 5},
	Segments: 1,
}

// HealthToGroup tells a group's administrator that a member's health code
// turned yellow or red. The member is named only by surname and the last
// four characters of the ID: enough for the administrator, who knows the
// staff, and nothing for anyone else who sees the phone.
var HealthToGroup = Template{
	Code:      "GC_HEALTH_GROUP",
	Text:      Signature + "{group}成员{member}健康码转为{color},请立即停止其到岗并配合社区处置",
	Params:    map[string]int{"group": 14, "member": 8, "color": 2},
	Segments:  1,
	Sensitive: true,
}

// HealthToGrid tells the grid worker of a member's group the same.
var HealthToGrid = Template{
	Code:      "GC_HEALTH_GRID",
	Text:      Signature + "网格{grid}:{group}成员{member}健康码转为{color},请立即核查跟进",
	Params:    map[string]int{"grid": 16, "group": 14, "member": 8, "color": 2},
	Segments:  1,
	Sensitive: true,
}

// HealthToHome tells the workers of the grid a person lives in, by the
// population registry, that their health code turned yellow or red: the
// door they knock on is theirs whether or not the person is in a group.
var HealthToHome = Template{
	Code:      "GC_HEALTH_HOME",
	Text:      Signature + "网格{grid}:辖区居民{member}健康码转为{color},请立即上门核查跟进",
	Params:    map[string]int{"grid": 16, "member": 8, "color": 2},
	Segments:  1,
	Sensitive: true,
}

// GroupDaily is the administrator's morning summary of the daily list.
var GroupDaily = Template{
	Code:     "GC_GROUP_DAILY",
	Text:     Signature + "{group}今日团体码:{members}人,异常{abnormal}人,请登录查看名单并督促核酸",
	Params:   map[string]int{"group": 14, "members": 5, "abnormal": 5},
	Segments: 1,
}

// Templates is every registered template: the one table the carrier's
// registration is made from.
var Templates = []Template{ReportWelcome, GridDigest, HealthToGroup, HealthToGrid, HealthToHome, GroupDaily}

// Clip shortens s to at most n characters, ending it with "…" when cut, so
// a long name still fits its registered parameter length.
func Clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n || n < 1 {
		return s
	}
	return string(r[:n-1]) + "…"
}

func lookup(code string) (Template, bool) {
	for _, t := range Templates {
		if t.Code == code {
			return t, true
		}
	}
	return Template{}, false
}

var (
	ErrMissingParam = errors.New("alert: template parameter missing")
	ErrTooLong      = errors.New("alert: message longer than registered")
)

// Render fills the template and checks each parameter against its
// registered length and the message against its segments.
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
		if n := utf8.RuneCountInString(v); n > t.Params[name] {
			return "", fmt.Errorf("%w: %s has %d characters, %d registered", ErrTooLong, name, n, t.Params[name])
		}
		b.WriteString(rest[:open])
		b.WriteString(v)
		rest = rest[open+end+1:]
	}
	msg := b.String()
	if n := Segments(msg); n > max(t.Segments, 1) {
		return "", fmt.Errorf("%w: %d segments, %d registered", ErrTooLong, n, t.Segments)
	}
	return msg, nil
}

// Segments is how many SMS a message is billed as: one up to 70 UCS-2
// characters, then 67 per segment (the rest carries the join header).
func Segments(msg string) int {
	n := Length(msg)
	if n <= SegmentLimit {
		return 1
	}
	return (n + 66) / 67
}

// Length counts a message as the carrier does: UCS-2 code units, so a
// character outside the BMP counts twice.
func Length(msg string) int { return len(utf16.Encode([]rune(msg))) }

// New makes a pending alert of tpl to phone, whose keyed hash is lookup:
// the parameters are checked against the registered lengths, and the phone
// is sealed to the alert id. The caller sets the grid, times and report.
func New(v *pii.Vault, id string, tpl Template, params map[string]string, phone, lookup string) (Alert, error) {
	if _, err := tpl.Render(params); err != nil {
		return Alert{}, fmt.Errorf("alert %s: %w", id, err)
	}
	sealed, err := v.Seal([]byte(phone), id)
	if err != nil {
		return Alert{}, fmt.Errorf("seal alert %s: %w", id, err)
	}
	a := Alert{ID: id, Template: tpl.Code, Params: params, RecipientLookup: lookup, RecipientSealed: sealed, Status: Pending}
	if tpl.Sensitive {
		if a.ParamsSealed, err = v.SealJSON(params, paramsContext(id)); err != nil {
			return Alert{}, fmt.Errorf("seal alert %s: %w", id, err)
		}
		a.Params = nil
	}
	return a, nil
}

func paramsContext(id string) string { return id + "/params" }

// OpenParams returns the alert's parameters, opening them if sealed.
func (a Alert) OpenParams(v *pii.Vault) (map[string]string, error) {
	if a.ParamsSealed == nil {
		return a.Params, nil
	}
	return pii.OpenJSON[map[string]string](v, a.ParamsSealed, paramsContext(a.ID))
}
