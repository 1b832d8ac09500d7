//go:build tools

package lambdarie

// Keeps github.com/aws/aws-lambda-go in go.mod for testdata/echo, which
// `go mod tidy` does not look at. The "tools" tag is never set in builds.
import _ "github.com/aws/aws-lambda-go/lambda"
