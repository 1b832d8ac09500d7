// Package lambdaapp is what every function's main.go shares: the JSON
// logger, the AWS clients and the keyset, chosen from typed config.
package lambdaapp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
	"github.com/sethvargo/go-envconfig"

	"gridcode/shared/area"
	"gridcode/shared/auth"
	"gridcode/shared/district"
	"gridcode/shared/httpapi"
	"gridcode/shared/pii"
	"gridcode/shared/secrets"
)

// Keys says where the keyset comes from: an SSM SecureString parameter in
// the cloud, a file in local runs and tests. Exactly one is set.
type Keys struct {
	Parameter string `env:"KEYS_PARAMETER"`
	File      string `env:"KEYS_FILE"`
}

// AWS holds the settings of the AWS clients.
type AWS struct {
	// DynamoDBEndpoint points the client at DynamoDB Local in tests.
	DynamoDBEndpoint string `env:"DYNAMODB_ENDPOINT"`
	// SNSEndpoint points the SNS client at a local fake in tests. Only the
	// fan-out function builds an SNS client (in its main.go, so that the
	// other binaries do not link the SNS SDK).
	SNSEndpoint string `env:"SNS_ENDPOINT"`
}

// Common is the configuration every function reads.
type Common struct {
	Keys Keys
	AWS  AWS
	// StaffAuth says who verifies staff callers: "jwt" in the cloud, where
	// API Gateway's JWT authorizer (the Cognito user pool) did and only its
	// claims count; "hmac" (the default) for the tokens `gridcode token`
	// signs, locally and in the tests.
	StaffAuth string `env:"STAFF_AUTH, default=hmac"`
}

// Runtime is what every function builds its adapters from.
type Runtime struct {
	AWS       aws.Config
	Keys      secrets.Keyset
	StaffAuth httpapi.StaffAuth
}

// Logs turns on Lambda's structured logs: JSON lines with each
// invocation's request id (the template sets LogFormat JSON).
func Logs() { slog.SetDefault(lambdacontext.NewLogger()) }

// Init turns on Lambda's structured logs, reads cfg (a struct with env
// tags that holds common) from the environment, failing with the name of
// a missing variable, and loads the SDK config and the keyset.
func Init(ctx context.Context, cfg any, common *Common) (Runtime, error) {
	Logs()
	if err := envconfig.Process(ctx, cfg); err != nil {
		return Runtime{}, fmt.Errorf("config: %w", err)
	}
	staffAuth, err := httpapi.ParseStaffAuth(common.StaffAuth)
	if err != nil {
		return Runtime{}, fmt.Errorf("config: %w", err)
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return Runtime{}, fmt.Errorf("aws config: %w", err)
	}
	keys, err := loadKeys(ctx, awsCfg, common.Keys)
	if err != nil {
		return Runtime{}, err
	}
	return Runtime{AWS: awsCfg, Keys: keys, StaffAuth: staffAuth}, nil
}

// DynamoDB builds the client once, outside the handler.
func (rt Runtime) DynamoDB(a AWS) *dynamodb.Client {
	return dynamodb.NewFromConfig(rt.AWS, func(o *dynamodb.Options) {
		if a.DynamoDBEndpoint != "" {
			o.BaseEndpoint = aws.String(a.DynamoDBEndpoint)
		}
	})
}

// loadKeys reads the keyset from where k says.
func loadKeys(ctx context.Context, cfg aws.Config, k Keys) (secrets.Keyset, error) {
	switch {
	case k.Parameter != "" && k.File != "":
		return secrets.Keyset{}, errors.New("config: set KEYS_PARAMETER or KEYS_FILE, not both")
	case k.Parameter != "":
		return secrets.FromParameter(ctx, ssm.NewFromConfig(cfg), k.Parameter)
	case k.File != "":
		return secrets.FromFile(k.File)
	}
	return secrets.Keyset{}, errors.New("config: KEYS_PARAMETER or KEYS_FILE must be set")
}

// ServeHTTP runs an http.Handler as an API Gateway HTTP API (payload v2)
// function.
//
// An HTTP API stage other than $default puts its name before the path
// ("/dev/v1/reports"); ServeHTTP takes it off before routing and keeps it
// as the base path pages link under (httpapi.BasePath). The claims of a
// JWT that the route's authorizer verified go along too
// (httpapi.JWTClaims), for httpapi.Staff.
func ServeHTTP(h http.Handler) {
	adapter := httpadapter.NewV2(httpapi.Logged(httpapi.Bounded(h)))
	lambda.Start(func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return adapter.ProxyWithContext(RequestContext(ctx, &ev), ev)
	})
}

// RequestContext takes the stage off ev's paths (StripStage) and returns
// ctx with the base path and the authorizer's JWT claims, if any.
func RequestContext(ctx context.Context, ev *events.APIGatewayV2HTTPRequest) context.Context {
	ctx = httpapi.WithBasePath(ctx, StripStage(ev))
	if a := ev.RequestContext.Authorizer; a != nil && a.JWT != nil && len(a.JWT.Claims) > 0 {
		ctx = httpapi.WithJWTClaims(ctx, a.JWT.Claims)
	}
	return ctx
}

// StripStage takes a named stage off the event's paths and returns the
// prefix it took ("/dev"), or "" when there was none to take: the $default
// stage, or a custom domain whose API mapping already left the stage out.
func StripStage(ev *events.APIGatewayV2HTTPRequest) string {
	stage := ev.RequestContext.Stage
	if stage == "" || stage == "$default" {
		return ""
	}
	prefix := "/" + stage
	rest, ok := strings.CutPrefix(ev.RawPath, prefix)
	if !ok || (rest != "" && rest[0] != '/') { // "/devices" is not under "/dev"
		return ""
	}
	if rest == "" {
		rest = "/"
	}
	ev.RawPath = rest
	if p, ok := strings.CutPrefix(ev.RequestContext.HTTP.Path, prefix); ok && (p == "" || p[0] == '/') {
		ev.RequestContext.HTTP.Path = cmp.Or(p, "/")
	}
	return prefix
}

// Main runs a function's composition root. A start-up failure is logged
// and exits non-zero, so Lambda reports an init error instead of serving
// with half a configuration.
func Main(realMain func(context.Context) error) {
	if err := realMain(context.Background()); err != nil {
		slog.Error("start-up failed", "err", err)
		os.Exit(1)
	}
}

// Vault opens personal data with the keyset's pepper and data key.
func (rt Runtime) Vault() (*pii.Vault, error) { return rt.Keys.Vault() }

// Staff verifies staff callers as STAFF_AUTH says (the authorizer's
// claims, or tokens signed with the keyset's token key), on the wall
// clock.
func (rt Runtime) Staff() (httpapi.Staff, error) {
	issuer, err := auth.NewIssuer(rt.Keys.TokenKey)
	return httpapi.Staff{Issuer: issuer, Now: time.Now, Auth: rt.StaffAuth}, err
}

// Settings reads the district's settings (grids, risk areas, guidance)
// from store, each process caching them for ttl.
func Settings(store district.Store, ttl time.Duration) (*district.Settings, error) {
	areas, err := area.Load()
	if err != nil {
		return nil, err
	}
	return district.NewSettings(store, areas, time.Now, ttl), nil
}
