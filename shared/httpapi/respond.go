// Package httpapi is the HTTP face of the functions: one http.Handler per
// function, served by Lambda through the API Gateway v2 adapter and by the
// local server alike.
package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"gridcode/shared/auth"
	"gridcode/shared/fields"
	"gridcode/shared/group"
	"gridcode/shared/refresh"
	"gridcode/shared/registry"
	"gridcode/shared/report"
	"gridcode/shared/worklist"
)

// Body limits. A full report with a 30-stop itinerary is under 4 KiB; a
// whole risk-area list must fit one 400 KB DynamoDB item.
const (
	MaxReportBody  = 16 << 10
	MaxRuleSetBody = 400 << 10
	// A batch of healthfeed.MaxBatch updates is about 200 KB.
	MaxHealthBody = 512 << 10
)

type errorBody struct {
	Error  string           `json:"error"`
	Fields []fields.Problem `json:"fields,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code string, problems ...fields.Problem) {
	writeJSON(w, status, errorBody{Error: code, Fields: problems})
}

// fail maps a service error to a response with a stable code. Raw error
// text never reaches the client; unexpected errors are logged once here.
func fail(w http.ResponseWriter, r *http.Request, err error) {
	var fe *fields.Error
	var limited *RateLimited
	switch {
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, fe.Code, fe.Problems...)
	case errors.As(err, &limited):
		w.Header().Set("Retry-After", limited.retryAfterSeconds())
		writeError(w, http.StatusTooManyRequests, "rate_limited")
	case errors.Is(err, auth.ErrMissing), errors.Is(err, auth.ErrInvalid), errors.Is(err, auth.ErrExpired):
		w.Header().Set("WWW-Authenticate", `Bearer realm="gridcode"`)
		writeError(w, http.StatusUnauthorized, "unauthorized")
	case errors.Is(err, auth.ErrForbidden):
		writeError(w, http.StatusForbidden, "forbidden")
	case errors.Is(err, report.ErrUnknownGrid):
		writeError(w, http.StatusNotFound, "unknown_grid")
	case errors.Is(err, report.ErrNotFound), errors.Is(err, group.ErrNotFound),
		errors.Is(err, registry.ErrNotFound), errors.Is(err, worklist.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found")
	case errors.Is(err, group.ErrRosterTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large")
	case errors.Is(err, group.ErrRosterMediaType):
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type")
	case errors.Is(err, group.ErrConflict):
		writeError(w, http.StatusConflict, "roster_changed")
	case errors.Is(err, report.ErrConflict), errors.Is(err, worklist.ErrConflict):
		writeError(w, http.StatusConflict, "changed_meanwhile")
	case errors.Is(err, report.ErrClosed), errors.Is(err, worklist.ErrClosed):
		writeError(w, http.StatusConflict, "already_closed")
	case errors.Is(err, report.ErrTooManyFollowUps):
		writeError(w, http.StatusConflict, "too_many_follow_ups")
	case errors.Is(err, refresh.ErrInProgress):
		writeError(w, http.StatusConflict, "refresh_in_progress")
	case errors.Is(err, refresh.ErrBadDate):
		writeError(w, http.StatusBadRequest, "invalid_query", fields.Problem{Field: "date", Reason: "invalid"})
	default:
		slog.ErrorContext(r.Context(), "request failed", "route", r.Pattern, "err", err)
		writeError(w, http.StatusInternalServerError, "internal")
	}
}

// errBodyRefused means decodeJSON already answered.
var errBodyRefused = errors.New("httpapi: body refused")

// decodeJSON reads a JSON body into dst: JSON content type only (415),
// at most limit bytes (413), no unknown fields and no trailing data (400).
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, dst any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type")
		return errBodyRefused
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	err = dec.Decode(dst)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("trailing data")
		}
	}
	if err == nil {
		return nil
	}
	var tooBig *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large")
	case errors.As(err, &typeErr):
		writeError(w, http.StatusBadRequest, "invalid_json", fields.Problem{Field: typeErr.Field, Reason: "wrong_type"})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		writeError(w, http.StatusBadRequest, "invalid_json", fields.Problem{Field: name, Reason: "unknown_field"})
	default:
		writeError(w, http.StatusBadRequest, "invalid_json")
	}
	return errBodyRefused
}
