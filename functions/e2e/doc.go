// Package e2e holds the end-to-end tests of the functions: each is built as
// its Lambda binary, run under the Lambda Runtime Interface Emulator
// (infra/lambdarie) against DynamoDB Local (infra/dynamolocal), and invoked
// with the events its trigger sends, made from the fixtures in testdata/:
// API Gateway HTTP API (payload 2.0) events for the HTTP functions (intake,
// reports, directory, groups, health, refresh, registry, worklist, stats),
// DynamoDB stream, EventBridge and Scheduler events for the fan-out, the
// digests and the refresh planner, SQS batches for the refresh worker and
// the registry import's continuations, and an S3 ObjectCreated event for the
// registry import (with local S3 and SQS endpoints: infra/s3fake,
// infra/sqsfake).
//
// The package has no code of its own. Without aws-lambda-rie or DynamoDB
// Local the tests are skipped, and with CI=true they fail instead (run
// infra/scripts/install-tools.sh to install both).
package e2e
