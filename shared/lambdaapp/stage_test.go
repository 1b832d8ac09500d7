package lambdaapp

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"gridcode/shared/httpapi"
)

func TestStripStage(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, stage, path string
		wantPath, base    string
	}{
		{"named stage", "dev", "/dev/v1/reports", "/v1/reports", "/dev"},
		{"the stage's root", "dev", "/dev", "/", "/dev"},
		{"the stage's root with a slash", "prod", "/prod/", "/", "/prod"},
		{"a page under the stage", "dev", "/dev/r/440703006107-01", "/r/440703006107-01", "/dev"},
		{"a path that only starts like the stage", "dev", "/devices/x", "/devices/x", ""},
		{"the default stage", "$default", "/v1/reports", "/v1/reports", ""},
		{"a custom domain's mapping, stage already off", "dev", "/v1/reports", "/v1/reports", ""},
	} {
		ev := events.APIGatewayV2HTTPRequest{RawPath: c.path}
		ev.RequestContext.Stage = c.stage
		ev.RequestContext.HTTP.Path = c.path
		base := StripStage(&ev)
		if base != c.base || ev.RawPath != c.wantPath || ev.RequestContext.HTTP.Path != c.wantPath {
			t.Errorf("%s: %q on stage %q → path %q (http.path %q), base %q; want %q, base %q",
				c.name, c.path, c.stage, ev.RawPath, ev.RequestContext.HTTP.Path, base, c.wantPath, c.base)
		}
	}
}

// The authorizer's claims reach the handler through the context; an event
// without them carries none.
func TestRequestContextCarriesJWTClaims(t *testing.T) {
	t.Parallel()
	ev := events.APIGatewayV2HTTPRequest{RawPath: "/dev/v1/me"}
	ev.RequestContext.Stage = "dev"
	ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": "u1", "custom:role": "district_admin"}},
	}
	ctx := RequestContext(context.Background(), &ev)
	if got := httpapi.JWTClaims(ctx); got["sub"] != "u1" || got["custom:role"] != "district_admin" {
		t.Errorf("claims %v", got)
	}
	if httpapi.BasePath(ctx) != "/dev" || ev.RawPath != "/v1/me" {
		t.Errorf("base %q, path %q", httpapi.BasePath(ctx), ev.RawPath)
	}
	if got := httpapi.JWTClaims(RequestContext(context.Background(), &events.APIGatewayV2HTTPRequest{})); got != nil {
		t.Errorf("an event without an authorizer gave claims %v", got)
	}
}
