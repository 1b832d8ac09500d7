// Package samtemplate holds the test that checks template.yaml against the
// code it deploys: every function's build target and folder, the env vars
// its config reads, the tables its policies name, the routes its handler
// registers, and the table schemas of shared/store/dynamo.
package samtemplate
