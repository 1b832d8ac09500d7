package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"gridcode/shared/auth"
	"gridcode/shared/gridwork"
)

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Logged logs one line per request: method, route pattern, status and
// duration. Never the path's values, the query or the body: they can hold
// personal data.
func Logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				slog.ErrorContext(r.Context(), "panic", "route", r.Pattern, "panic", p)
				if rec.status == http.StatusOK {
					writeError(rec, http.StatusInternalServerError, "internal")
				}
			}
			slog.InfoContext(r.Context(), "request", "method", r.Method, "route", r.Pattern,
				"status", rec.status, "ms", time.Since(start).Milliseconds())
		}()
		next.ServeHTTP(rec, r)
	})
}

type basePathKey struct{}

// WithBasePath says under which path prefix the API is served (an API
// Gateway stage, "/dev"); pages link under it.
func WithBasePath(ctx context.Context, base string) context.Context {
	return context.WithValue(ctx, basePathKey{}, base)
}

// BasePath is the prefix WithBasePath set, or "" at the root.
func BasePath(ctx context.Context) string {
	base, _ := ctx.Value(basePathKey{}).(string)
	return base
}

// Router is where an API mounts its routes: an *http.ServeMux, or a
// recorder in the tests that check template.yaml and openapi.yaml.
type Router interface {
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

type jwtClaimsKey struct{}

// WithJWTClaims carries the claims API Gateway's JWT authorizer verified
// (the event's requestContext.authorizer.jwt.claims) to Staff.
func WithJWTClaims(ctx context.Context, claims map[string]string) context.Context {
	return context.WithValue(ctx, jwtClaimsKey{}, claims)
}

// JWTClaims are the claims WithJWTClaims set, or nil.
func JWTClaims(ctx context.Context) map[string]string {
	claims, _ := ctx.Value(jwtClaimsKey{}).(map[string]string)
	return claims
}

// StaffAuth says who verifies a staff caller.
type StaffAuth string

const (
	// StaffHMAC: the bearer token `gridcode token` signs, verified here
	// with the keyset's token key (locally, in the tests).
	StaffHMAC StaffAuth = "hmac"
	// StaffJWT: API Gateway's JWT authorizer (the Cognito user pool) has
	// verified the caller; only its claims count, a bearer token of ours
	// is never looked at (in the cloud).
	StaffJWT StaffAuth = "jwt"
)

// ParseStaffAuth accepts "hmac" (also "") and "jwt".
func ParseStaffAuth(s string) (StaffAuth, error) {
	switch a := StaffAuth(s); a {
	case "", StaffHMAC:
		return StaffHMAC, nil
	case StaffJWT:
		return a, nil
	}
	return "", fmt.Errorf("STAFF_AUTH %q: want hmac or jwt", s)
}

// Staff verifies the caller of a staff request.
type Staff struct {
	Issuer auth.Issuer
	Now    func() time.Time
	// Auth is StaffHMAC when empty.
	Auth StaffAuth
}

func (s Staff) principal(r *http.Request) (auth.Principal, error) {
	if s.Auth == StaffJWT {
		return auth.FromClaims(JWTClaims(r.Context()), s.Now())
	}
	return s.Issuer.Verify(auth.FromHeader(r.Header.Get("Authorization")), s.Now())
}

// answer serves a staff read or change: the verified caller, then do,
// then its result as JSON with status, or the error.
func (s Staff) answer(w http.ResponseWriter, r *http.Request, status int, do func(auth.Principal) (any, error)) {
	s.answerCaller(w, r, status, func(c gridwork.Caller) (any, error) { return do(c.Principal) })
}

// requireAdmin answers 401/403 unless the caller is the district office.
func (s Staff) requireAdmin(w http.ResponseWriter, r *http.Request) bool {
	p, err := s.principal(r)
	if err == nil && !p.IsDistrictAdmin() {
		err = auth.ErrForbidden
	}
	if err != nil {
		fail(w, r, err)
		return false
	}
	return true
}
