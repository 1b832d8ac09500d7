package httpapi

import (
	"context"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"gridcode/shared/ratelimit"
)

// PublicRules are the abuse limits of the public writes: reports and
// self-joins, per client address (every request, before its body is read)
// and per person (the keyed lookup of their document, once the body is
// checked). The zero PublicRules limits nothing.
type PublicRules struct {
	ReportsPerAddress ratelimit.Rule
	ReportsPerPerson  ratelimit.Rule
	JoinsPerAddress   ratelimit.Rule
	JoinsPerPerson    ratelimit.Rule
}

// DefaultPublicRules are make run's limits and the cloud's (template.yaml
// sets the same; a test keeps them equal). An address is often a whole
// carrier NAT or a station's Wi-Fi, so it gets ten times what one person
// could type in a minute; a person files a report or two per trip, and a
// resubmission of the same arrival is answered whatever the count.
func DefaultPublicRules() PublicRules {
	return PublicRules{
		ReportsPerAddress: ratelimit.Rule{Limit: 30, Window: time.Minute},
		ReportsPerPerson:  ratelimit.Rule{Limit: 5, Window: time.Hour},
		JoinsPerAddress:   ratelimit.Rule{Limit: 30, Window: time.Minute},
		JoinsPerPerson:    ratelimit.Rule{Limit: 10, Window: time.Hour},
	}
}

// Limit is one abuse limit: a ratelimit.Keyed on the clock Now. The zero
// Limit admits everything. It is the person gate of report.Intake and
// group.Registry (Admit), and the address limit of IntakeAPI and GroupsAPI.
type Limit struct {
	Keyed ratelimit.Keyed
	Now   func() time.Time
}

// RateLimited is a request over its limit: 429 with Retry-After.
type RateLimited struct {
	RetryAfter time.Duration
}

func (e *RateLimited) Error() string {
	return "httpapi: rate limited, retry after " + e.RetryAfter.String()
}

// retryAfterSeconds is Retry-After's value: whole seconds, rounded up, at
// least 1 (a 0 would invite an immediate retry into the same window).
func (e *RateLimited) retryAfterSeconds() string {
	return strconv.Itoa(max(1, int(math.Ceil(e.RetryAfter.Seconds()))))
}

// Admit counts one request of key: a *RateLimited error when over the
// limit. A limit whose counts cannot be kept (DynamoDB failing) admits the
// request and logs: a lost report costs more than an unlimited minute, and
// API Gateway's throttling still caps the rate.
func (l Limit) Admit(ctx context.Context, key string) error {
	if l.Keyed == nil {
		return nil
	}
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	ok, retryAfter, err := l.Keyed.Allow(ctx, key, now())
	switch {
	case err != nil:
		slog.WarnContext(ctx, "rate limit not checked, request admitted", "err", err)
		return nil
	case !ok:
		return &RateLimited{RetryAfter: retryAfter}
	}
	return nil
}

// admitClient answers 429 and returns false when the request's client
// address is over the limit.
func (l Limit) admitClient(w http.ResponseWriter, r *http.Request) bool {
	if err := l.Admit(r.Context(), ClientKey(r)); err != nil {
		fail(w, r, err)
		return false
	}
	return true
}

// ClientKey is what the address limits count a request under: the
// client's IP address, or for IPv6 its /64 (what one subscriber is given
// whole, so a client cannot step past its limit by changing addresses
// within it). In Lambda, RemoteAddr is API Gateway's sourceIp (the
// adapter sets it), the address that connected to API Gateway; locally it
// is the TCP peer. X-Forwarded-For is never read: any client can write it,
// so behind a local reverse proxy every request counts as the proxy's.
func ClientKey(r *http.Request) string {
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return "unknown" // never the case behind API Gateway or net/http
	}
	addr = addr.WithZone("").Unmap()
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// Bounds of a request's URL. No route's path comes near MaxPathBytes (ids
// are tens of characters), and the longest query, a registry search by
// name, community and address in Chinese, percent-encoded, is under 2 KiB.
// Beyond them the ids would reach the store as keys DynamoDB refuses
// (2 KiB at most), a 500 for what is only a bad request.
const (
	MaxPathBytes  = 1 << 10
	MaxQueryBytes = 4 << 10
)

// Bounded answers 414 uri_too_long to a request whose path or query is
// over its bound, before any handler sees it; the Lambda adapter and the
// local server wrap every API in it.
func Bounded(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.URL.EscapedPath()) > MaxPathBytes || len(r.URL.RawQuery) > MaxQueryBytes {
			writeError(w, http.StatusRequestURITooLong, "uri_too_long")
			return
		}
		next.ServeHTTP(w, r)
	})
}
