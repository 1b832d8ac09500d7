package e2e_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"gridcode/infra/lambdarie"
	"gridcode/shared/auth"
	"gridcode/shared/dates"
	"gridcode/shared/store/dynamo"
)

// In the cloud (STAFF_AUTH=jwt) the staff functions take the caller from
// the claims API Gateway's JWT authorizer verified, in the event's
// requestContext.authorizer.jwt.claims, and ignore a bearer token of our
// own: without claims a request is 401, whatever it carries.
func TestStaffFromAuthorizerClaims(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, endpoint, keysFile := newSystem(ctx, t, "jwt", func(prefix string) dynamo.Tables {
		return dynamo.Tables{Reports: prefix + "reports", Grids: prefix + "grids", Rules: prefix + "rules", Audit: prefix + "audit"}
	})
	if err := s.store.PutGrids(ctx, seededGrids); err != nil {
		t.Fatal(err)
	}
	common := []string{"KEYS_FILE=" + keysFile, "DYNAMODB_ENDPOINT=" + endpoint, "AWS_LAMBDA_LOG_FORMAT=JSON", "STAFF_AUTH=jwt"}
	s.directory = lambdarie.Start(t, lambdarie.Build(t, "gridcode/functions/directory"), append(common,
		"GRIDS_TABLE="+s.tables.Grids, "RULES_TABLE="+s.tables.Rules, "REPORT_URL="+gcReportURL)...)
	s.reports = lambdarie.Start(t, lambdarie.Build(t, "gridcode/functions/reports"), append(common,
		"REPORTS_TABLE="+s.tables.Reports, "GRIDS_TABLE="+s.tables.Grids, "RULES_TABLE="+s.tables.Rules, "AUDIT_TABLE="+s.tables.Audit)...)

	exp := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	// A Cognito ID token's claims, as API Gateway passes them on.
	worker := map[string]string{
		"sub": "7d2f0c3a-staff", "exp": exp, "iat": strconv.FormatInt(time.Now().Unix(), 10), "token_use": "id",
		"iss": "https://cognito-idp.ap-east-1.amazonaws.com/ap-east-1_example", "aud": "example-client",
		"custom:role": "grid_worker", "custom:grids": gridB + "," + gridA,
	}
	var me struct {
		Role  auth.Role `json:"role"`
		Grids []string  `json:"grids"`
		Grid  string    `json:"grid"`
	}
	s.invoke(ctx, t, s.directory, request{Route: "GET /v1/me", Claims: worker}).want(t, http.StatusOK, &me)
	if me.Role != auth.GridWorker || !slices.Equal(me.Grids, []string{gridB, gridA}) || me.Grid != gridB {
		t.Errorf("GET /v1/me with a worker's claims = %+v, want grid_worker of %s and %s", me, gridB, gridA)
	}

	// Both grids' reports are the worker's; no grid's is a worker's of
	// another.
	var list struct{}
	for _, g := range []string{gridA, gridB} {
		s.invoke(ctx, t, s.reports, request{Route: "GET /v1/grids/{gridCode}/reports", Path: "/v1/grids/" + g + "/reports", Claims: worker}).want(t, http.StatusOK, &list)
	}
	other := map[string]string{"sub": "other", "exp": exp, "custom:role": "grid_worker", "custom:grids": gridB}
	var refused errorBody
	s.invoke(ctx, t, s.reports, request{Route: "GET /v1/grids/{gridCode}/reports", Path: "/v1/grids/" + gridA + "/reports", Claims: other}).want(t, http.StatusForbidden, &refused)

	// Signed in, but the district gave the user no role: 403.
	noRole := map[string]string{"sub": "new-user", "exp": exp}
	s.invoke(ctx, t, s.directory, request{Route: "GET /v1/me", Claims: noRole}).want(t, http.StatusForbidden, &refused)
	unknown := map[string]string{"sub": "x", "exp": exp, "custom:role": "mayor"}
	s.invoke(ctx, t, s.directory, request{Route: "GET /v1/me", Claims: unknown}).want(t, http.StatusForbidden, &refused)

	// No claims: 401, even with a valid HMAC token of this keyset.
	s.today = dates.Today(time.Now())
	s.invoke(ctx, t, s.directory, withToken(request{Route: "GET /v1/me"}, s.token(t, gridA))).want(t, http.StatusUnauthorized, &refused)
	s.invoke(ctx, t, s.reports, withToken(request{Route: "GET /v1/grids/{gridCode}/reports", Path: "/v1/grids/" + gridA + "/reports"}, s.token(t, gridA))).want(t, http.StatusUnauthorized, &refused)
	s.invoke(ctx, t, s.directory, request{Route: "GET /v1/me"}).want(t, http.StatusUnauthorized, &refused)

	// The public reads need no claims.
	var grids []map[string]string
	s.invoke(ctx, t, s.directory, request{Route: "GET /v1/grids"}).want(t, http.StatusOK, &grids)
}
