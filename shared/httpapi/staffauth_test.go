package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"gridcode/shared/auth"
	"gridcode/shared/httpapi"
)

// The cloud's staff: API Gateway's JWT authorizer verified a Cognito ID
// token and passed its claims; Staff maps them to the caller (GET /v1/me
// shows what it made of them).
func TestStaffFromJWTClaims(t *testing.T) {
	t.Parallel()
	now := time.Date(2022, 12, 5, 8, 0, 0, 0, time.UTC)
	issuer, err := auth.NewIssuer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	hmacToken, err := issuer.Issue(auth.Principal{Subject: "admin", Role: auth.DistrictAdmin, Expires: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	exp := strconv.FormatInt(now.Add(time.Hour).Unix(), 10)
	claims := func(kv ...string) map[string]string {
		m := map[string]string{"sub": "5f1c-staff", "exp": exp, "iss": "https://cognito-idp.example", "token_use": "id"}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
				continue
			}
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	type me struct {
		Role    auth.Role `json:"role"`
		Grids   []string  `json:"grids"`
		Grid    string    `json:"grid"`
		Group   string    `json:"group"`
		Expires time.Time `json:"expires"`
	}
	for _, c := range []struct {
		name   string
		mode   httpapi.StaffAuth
		claims map[string]string // nil: none in the request
		token  string
		status int
		want   me
	}{
		{name: "a worker of two grids", mode: httpapi.StaffJWT,
			claims: claims("custom:role", "grid_worker", "custom:grids", "440703001001-01, 440703001002-01"), status: 200,
			want: me{Role: auth.GridWorker, Grids: []string{"440703001001-01", "440703001002-01"}, Grid: "440703001001-01", Expires: now.Add(time.Hour)}},
		{name: "a worker of one grid", mode: httpapi.StaffJWT,
			claims: claims("custom:role", "grid_worker", "custom:grids", "440703001001-01"), status: 200,
			want: me{Role: auth.GridWorker, Grids: []string{"440703001001-01"}, Grid: "440703001001-01", Expires: now.Add(time.Hour)}},
		{name: "the district office", mode: httpapi.StaffJWT, claims: claims("custom:role", "district_admin"), status: 200,
			want: me{Role: auth.DistrictAdmin, Expires: now.Add(time.Hour)}},
		{name: "a group's administrator", mode: httpapi.StaffJWT, claims: claims("custom:role", "group_admin", "custom:group", "G4X7K2M9P"), status: 200,
			want: me{Role: auth.GroupAdmin, Group: "G4X7K2M9P", Expires: now.Add(time.Hour)}},
		{name: "grids of another role are not kept", mode: httpapi.StaffJWT, claims: claims("custom:role", "district_admin", "custom:grids", "g1"), status: 200,
			want: me{Role: auth.DistrictAdmin, Expires: now.Add(time.Hour)}},
		{name: "signed in, but no role", mode: httpapi.StaffJWT, claims: claims(), status: 403},
		{name: "an unknown role", mode: httpapi.StaffJWT, claims: claims("custom:role", "superuser"), status: 403},
		{name: "a worker without grids", mode: httpapi.StaffJWT, claims: claims("custom:role", "grid_worker", "custom:grids", " , "), status: 403},
		{name: "a group admin without a group", mode: httpapi.StaffJWT, claims: claims("custom:role", "group_admin"), status: 403},
		{name: "no subject", mode: httpapi.StaffJWT, claims: claims("custom:role", "district_admin", "sub", ""), status: 401},
		{name: "no expiry", mode: httpapi.StaffJWT, claims: claims("custom:role", "district_admin", "exp", ""), status: 401},
		{name: "expired", mode: httpapi.StaffJWT, claims: claims("custom:role", "district_admin", "exp", strconv.FormatInt(now.Unix(), 10)), status: 401},
		{name: "no claims", mode: httpapi.StaffJWT, status: 401},
		{name: "no claims, an HMAC token: ignored in jwt mode", mode: httpapi.StaffJWT, token: hmacToken, status: 401},
		{name: "hmac mode ignores claims", mode: httpapi.StaffHMAC, claims: claims("custom:role", "district_admin"), status: 401},
		{name: "hmac mode takes its token", mode: httpapi.StaffHMAC, token: hmacToken, status: 200,
			want: me{Role: auth.DistrictAdmin, Expires: now.Add(time.Hour)}},
		{name: "the default is hmac", token: hmacToken, status: 200, want: me{Role: auth.DistrictAdmin, Expires: now.Add(time.Hour)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			mux := http.NewServeMux()
			httpapi.DirectoryAPI{Staff: httpapi.Staff{Issuer: issuer, Now: func() time.Time { return now }, Auth: c.mode}}.Register(mux)
			req := httptest.NewRequest(http.MethodGet, "/v1/me", nil)
			if c.claims != nil {
				req = req.WithContext(httpapi.WithJWTClaims(req.Context(), c.claims))
			}
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Fatalf("GET /v1/me = %d %s, want %d", rec.Code, rec.Body, c.status)
			}
			if c.status != 200 {
				return
			}
			var got me
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Role != c.want.Role || !slices.Equal(got.Grids, c.want.Grids) || got.Grid != c.want.Grid || got.Group != c.want.Group || !got.Expires.Equal(c.want.Expires) {
				t.Errorf("GET /v1/me = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestParseStaffAuth(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]httpapi.StaffAuth{"": httpapi.StaffHMAC, "hmac": httpapi.StaffHMAC, "jwt": httpapi.StaffJWT} {
		if got, err := httpapi.ParseStaffAuth(in); err != nil || got != want {
			t.Errorf("ParseStaffAuth(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := httpapi.ParseStaffAuth("JWT "); err == nil {
		t.Error(`ParseStaffAuth("JWT ") accepted`)
	}
}
