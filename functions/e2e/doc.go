// Package e2e holds the end-to-end test of the HTTP functions: each of
// functions/intake, functions/reports and functions/directory is built as
// its Lambda binary, run under the Lambda Runtime Interface Emulator
// (infra/lambdarie) against DynamoDB Local (infra/dynamolocal), and invoked
// with API Gateway HTTP API (payload 2.0) events made from the fixtures in
// testdata/.
//
// The package has no code of its own; the test is in e2e_test.go. Without
// aws-lambda-rie or DynamoDB Local the test is skipped, and with CI=true it
// fails instead (run infra/scripts/install-tools.sh to install both).
package e2e
