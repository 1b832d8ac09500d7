// Command registryimport imports the files the district office uploads to
// S3: population registry files under registry/ (S3 invokes it for each
// new file, and it consumes its own SQS queue of continuations to go on
// where an invocation stopped, until the file is done and its error file
// is written to errors/<importId>.csv), and reconciliation lists under
// lists/<kind>/, each stored as a list in one invocation, its refused rows
// written to errors/<listId>.csv.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"gridcode/shared/lambdaapp"
	"gridcode/shared/registry"
	"gridcode/shared/registry/importjob"
	"gridcode/shared/registry/importjob/sqsqueue"
	"gridcode/shared/registry/s3source"
	"gridcode/shared/store/dynamo"
	"gridcode/shared/worklist"
)

type config struct {
	Common             lambdaapp.Common
	RegistryTable      string `env:"REGISTRY_TABLE, required"`
	RegistryIndexTable string `env:"REGISTRY_INDEX_TABLE, required"`
	ImportsTable       string `env:"IMPORTS_TABLE, required"`
	ImportErrorsTable  string `env:"IMPORT_ERRORS_TABLE, required"`
	GridsTable         string `env:"GRIDS_TABLE, required"`
	ListsTable         string `env:"LISTS_TABLE, required"`
	ListChunksTable    string `env:"LIST_CHUNKS_TABLE, required"`
	ImportQueueURL     string `env:"IMPORT_QUEUE_URL, required"`
	SQSEndpoint        string `env:"SQS_ENDPOINT"` // a local SQS in tests
	S3Endpoint         string `env:"S3_ENDPOINT"`  // a local S3 in tests, path-style
	// PauseMargin is left before the deadline; no chunk starts after it.
	PauseMargin time.Duration `env:"PAUSE_MARGIN, default=90s"`
	ChunkRows   int           `env:"CHUNK_ROWS, default=1000"`
}

func main() { lambdaapp.Main(realMain) }

func realMain(ctx context.Context) error {
	var cfg config
	rt, err := lambdaapp.Init(ctx, &cfg, &cfg.Common)
	if err != nil {
		return err
	}
	if cfg.ChunkRows < 1 {
		return fmt.Errorf("config: CHUNK_ROWS must be at least 1, got %d", cfg.ChunkRows)
	}
	if cfg.PauseMargin < 0 {
		return fmt.Errorf("config: PAUSE_MARGIN must not be negative, got %s", cfg.PauseMargin)
	}
	vault, err := rt.Vault()
	if err != nil {
		return err
	}
	store := dynamo.New(rt.DynamoDB(cfg.Common.AWS), dynamo.Tables{
		Registry: cfg.RegistryTable, RegistryIndex: cfg.RegistryIndexTable,
		Imports: cfg.ImportsTable, ImportErrors: cfg.ImportErrorsTable, Grids: cfg.GridsTable,
		Lists: cfg.ListsTable, ListChunks: cfg.ListChunksTable,
	})
	job := &importjob.Job{
		Importer: &registry.Importer{People: store, Imports: store, Vault: vault, Now: time.Now, ChunkRows: cfg.ChunkRows},
		Grids:    store,
		Objects:  s3source.New(rt.AWS, cfg.S3Endpoint),
		Queue:    sqsqueue.New(rt.AWS, cfg.SQSEndpoint, cfg.ImportQueueURL),
		Lists:    &worklist.Uploader{Store: store, Vault: vault, Now: time.Now},
		Margin:   cfg.PauseMargin,
	}
	lambda.Start(job.Handle)
	return nil
}
