package httpapi

import (
	"context"
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

// Staff verifies the bearer token of a staff request.
type Staff struct {
	Issuer auth.Issuer
	Now    func() time.Time
}

func (s Staff) principal(r *http.Request) (auth.Principal, error) {
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
