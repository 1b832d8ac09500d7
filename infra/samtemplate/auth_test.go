package samtemplate

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"gridcode/shared/httpapi"
)

const jwtAuthorizer = "GridcodeJwt"

// authProblems checks the HTTP API's staff sign-in: a JWT authorizer on
// the Cognito user pool is the default, exactly httpapi.PublicRoutes say
// Authorizer: NONE, every function serving a staff route trusts only the
// authorizer (STAFF_AUTH: jwt), and the user pool is admin-only with the
// custom attributes auth.FromClaims reads.
func authProblems(t *testing.T, tp template) []string {
	t.Helper()
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	api := tp.resourceProps("HttpApi")
	a := get(api, "Auth")
	if v := get(a, "DefaultAuthorizer"); v == nil || v.Value != jwtAuthorizer {
		bad("HttpApi: Auth.DefaultAuthorizer must be %s", jwtAuthorizer)
	}
	jwt := get(get(a, "Authorizers"), jwtAuthorizer)
	if v := get(jwt, "IdentitySource"); v == nil || v.Value != "$request.header.Authorization" {
		bad("HttpApi: %s.IdentitySource must be $request.header.Authorization", jwtAuthorizer)
	}
	cfg := get(jwt, "JwtConfiguration")
	issuer := get(cfg, "issuer")
	if issuer == nil || issuer.Tag != "!Sub" || issuer.Value != "https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}" {
		bad("HttpApi: %s's issuer must be the user pool's (!Sub https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool})", jwtAuthorizer)
	}
	audience := map[string]bool{}
	refs(get(cfg, "audience"), audience)
	if !audience["UserPoolClient"] || len(audience) != 1 {
		bad("HttpApi: %s's audience must be !Ref UserPoolClient", jwtAuthorizer)
	}

	public := map[string]bool{}
	for _, p := range httpapi.PublicRoutes {
		public[goPatternToRoute(t, p)] = true
	}
	seen := map[string]bool{}
	resources := get(tp.yaml, "Resources")
	for i := 0; resources != nil && i+1 < len(resources.Content); i += 2 {
		id, res := resources.Content[i].Value, resources.Content[i+1]
		if v := get(res, "Type"); v == nil || v.Value != "AWS::Serverless::Function" {
			continue
		}
		props := get(res, "Properties")
		events := get(props, "Events")
		staff := false
		for j := 0; events != nil && j+1 < len(events.Content); j += 2 {
			name, ev := events.Content[j].Value, events.Content[j+1]
			if v := get(ev, "Type"); v == nil || v.Value != "HttpApi" {
				continue
			}
			ep := get(ev, "Properties")
			method, path := get(ep, "Method"), get(ep, "Path")
			if method == nil || path == nil {
				continue // TestRoutesMatchHandlers says so
			}
			route := strings.ToUpper(method.Value) + " " + path.Value
			seen[route] = true
			authorizer := ""
			if v := get(get(ep, "Auth"), "Authorizer"); v != nil {
				authorizer = v.Value
			}
			switch {
			case public[route] && authorizer != "NONE":
				bad("%s: event %s (%s) is public: it needs Auth: {Authorizer: NONE}", id, name, route)
			case !public[route] && authorizer != "" && authorizer != jwtAuthorizer:
				bad("%s: event %s (%s) is a staff route: it needs the %s authorizer, not %q (or add it to httpapi.PublicRoutes if anyone may call it)", id, name, route, jwtAuthorizer, authorizer)
			}
			if !public[route] {
				staff = true
			}
		}
		env := get(get(props, "Environment"), "Variables")
		if v := get(env, "STAFF_AUTH"); staff && (v == nil || v.Value != "jwt") {
			bad("%s serves staff routes: it needs STAFF_AUTH: jwt (trust only the authorizer's claims)", id)
		}
	}
	for route := range public {
		if !seen[route] {
			bad("public route %s (httpapi.PublicRoutes) is not in the template", route)
		}
	}

	pool := get(resources, "UserPool")
	if v := get(pool, "Type"); v == nil || v.Value != "AWS::Cognito::UserPool" {
		bad("UserPool must be an AWS::Cognito::UserPool")
	}
	pp := get(pool, "Properties")
	if v := get(get(pp, "AdminCreateUserConfig"), "AllowAdminCreateUserOnly"); v == nil || v.Value != "true" {
		bad("UserPool: no self sign-up (AdminCreateUserConfig.AllowAdminCreateUserOnly: true)")
	}
	var attrs []string
	for _, s := range items(get(pp, "Schema")) {
		if n, ty := get(s, "Name"), get(s, "AttributeDataType"); n != nil && ty != nil && ty.Value == "String" {
			attrs = append(attrs, n.Value)
		}
	}
	for _, want := range []string{"role", "grids", "group"} {
		if !slices.Contains(attrs, want) {
			bad("UserPool: no String custom attribute %q (auth.FromClaims reads custom:%s)", want, want)
		}
	}
	client := get(resources, "UserPoolClient")
	if v := get(client, "Type"); v == nil || v.Value != "AWS::Cognito::UserPoolClient" {
		bad("UserPoolClient must be an AWS::Cognito::UserPoolClient")
	}
	poolRef := map[string]bool{}
	refs(get(get(client, "Properties"), "UserPoolId"), poolRef)
	if !poolRef["UserPool"] {
		bad("UserPoolClient: UserPoolId must be !Ref UserPool")
	}
	if v := get(get(client, "Properties"), "WriteAttributes"); v != nil && slices.ContainsFunc(v.Content, func(n *yaml.Node) bool { return strings.HasPrefix(n.Value, "custom:") }) {
		bad("UserPoolClient: staff must not write their own custom attributes (role, grids, group)")
	}
	return problems
}

// Every staff route behind the JWT authorizer, every public one open, the
// user pool as auth.FromClaims needs it.
func TestStaffRoutesNeedTheJWTAuthorizer(t *testing.T) {
	for _, p := range authProblems(t, loadTemplate(t)) {
		t.Error(p)
	}
}

func TestAuthChecksCatchMistakes(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, old, new, want string
	}{
		{"no default authorizer", "        DefaultAuthorizer: GridcodeJwt\n", "",
			"Auth.DefaultAuthorizer must be GridcodeJwt"},
		{"a staff route opened", "            Path: /v1/me\n", "            Path: /v1/me\n            Auth:\n              Authorizer: NONE\n",
			"DirectoryFunction: event WhoAmI (GET /v1/me) is a staff route"},
		{"a public route behind the authorizer", "            Path: /v1/reports\n            Auth:\n              Authorizer: NONE # public (httpapi.PublicRoutes)\n", "            Path: /v1/reports\n",
			"IntakeFunction: event SubmitReport (POST /v1/reports) is public"},
		{"the issuer of another pool", "${AWS::Region}.amazonaws.com/${UserPool}", "${AWS::Region}.amazonaws.com/eu-west-1_abc",
			"GridcodeJwt's issuer must be the user pool's"},
		{"self sign-up", "AllowAdminCreateUserOnly: true", "AllowAdminCreateUserOnly: false",
			"no self sign-up"},
		{"no grids attribute", "        - Name: grids\n", "        - Name: grid\n",
			`no String custom attribute "grids"`},
		{"a staff function trusting HMAC tokens", "          STAFF_AUTH: jwt\n", "          STAFF_AUTH: hmac\n",
			"needs STAFF_AUTH: jwt"},
		{"staff set their own role", "WriteAttributes: [phone_number]", "WriteAttributes: [phone_number, custom:role]",
			"must not write their own custom attributes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(string(data), c.old) {
				t.Fatalf("template.yaml no longer contains %q", c.old)
			}
			changed := strings.Replace(string(data), c.old, c.new, 1)
			problems := authProblems(t, parseTemplate(t, "template.yaml ("+c.name+")", []byte(changed)))
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }) {
				t.Errorf("%s: want a problem containing %q, got %q", c.name, c.want, problems)
			}
		})
	}
}
