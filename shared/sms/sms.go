// Package sms is the provider port: a message goes out as a registered
// template with parameters, never as free text, because mainland China
// requires registered templates and a domestic provider must be able to
// slot in where SNS is (AWS's China regions have no SNS SMS).
package sms

import (
	"context"
	"errors"
)

// Message is one SMS to one phone.
type Message struct {
	AlertID  string            // the outbox alert this sends, for the provider's records
	To       string            // E.164, +8613800138000
	Template string            // registered template code
	Params   map[string]string // the template's parameters
	Text     string            // the rendered text, for providers that take text (SNS)
	Segments int               // SMS segments the text takes
}

// Provider sends one message and returns the provider's message id.
type Provider interface {
	Send(ctx context.Context, m Message) (messageID string, err error)
}

// Receipts is implemented by a provider that keeps its own record of the
// messages it took, by alert id: the local outbox. Delivery asks it before
// sending again an alert whose earlier claim lapsed, so a sender that died
// after the provider took the message and before the ledger recorded it
// leaves no second SMS. SNS keeps no such record: there the window stays.
type Receipts interface {
	// Receipt returns the message id the provider gave alertID's message,
	// and whether it took one.
	Receipt(ctx context.Context, alertID string) (messageID string, ok bool, err error)
}

// Errors a provider wraps, so delivery knows whether to try again.
var (
	// ErrPermanent: this message will never go through (opted out, not a
	// mobile number). It is not retried; the grid worker phones instead.
	ErrPermanent = errors.New("sms: permanent failure")
	// ErrThrottled: the provider asks us to slow down. Retried with backoff.
	ErrThrottled = errors.New("sms: throttled")
)
