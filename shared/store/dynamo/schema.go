package dynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// AlertStatusIndex is the alerts table's GSI by status, oldest first: the
// delivery worker's queue of pending alerts.
const AlertStatusIndex = "byStatus"

// TableSpecs are the tables as template.yaml declares them; tests and the
// local DynamoDB runs create them from here (a test checks the two agree).
// Tables without a name in t are left out.
func TableSpecs(t Tables) []*dynamodb.CreateTableInput {
	s := func(name string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeTypeS}
	}
	hash := func(name string) types.KeySchemaElement {
		return types.KeySchemaElement{AttributeName: aws.String(name), KeyType: types.KeyTypeHash}
	}
	n := func(name string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeTypeN}
	}
	rng := func(name string) types.KeySchemaElement {
		return types.KeySchemaElement{AttributeName: aws.String(name), KeyType: types.KeyTypeRange}
	}
	all := &types.Projection{ProjectionType: types.ProjectionTypeAll}
	keysOnly := &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly}
	specs := []*dynamodb.CreateTableInput{
		{
			TableName:            aws.String(t.Reports),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{s("reportId"), s("gridCode"), s("listKey")},
			KeySchema:            []types.KeySchemaElement{hash("reportId")},
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
				IndexName: aws.String(GridIndex), KeySchema: []types.KeySchemaElement{hash("gridCode"), rng("listKey")}, Projection: all,
			}},
		},
		{
			TableName:            aws.String(t.Alerts),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{s("alertId"), s("status"), s("createdAt")},
			KeySchema:            []types.KeySchemaElement{hash("alertId")},
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
				IndexName: aws.String(AlertStatusIndex), KeySchema: []types.KeySchemaElement{hash("status"), rng("createdAt")}, Projection: all,
			}},
			// The fan-out function's trigger: each new or changed alert.
			StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewImage},
		},
		{
			TableName:            aws.String(t.Grids),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{s("gridCode")},
			KeySchema:            []types.KeySchemaElement{hash("gridCode")},
		},
		{
			TableName:            aws.String(t.Rules),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{s("ruleSet")},
			KeySchema:            []types.KeySchemaElement{hash("ruleSet")},
		},
		{
			TableName:            aws.String(t.Groups),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{s("groupId"), s("gridCode")},
			KeySchema:            []types.KeySchemaElement{hash("groupId")},
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
				IndexName: aws.String(GroupGridIndex), KeySchema: []types.KeySchemaElement{hash("gridCode"), rng("groupId")}, Projection: all,
			}},
		},
		{
			TableName:            aws.String(t.Members),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{s("rosterKey"), s("personKey")},
			KeySchema:            []types.KeySchemaElement{hash("rosterKey"), rng("personKey")},
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
				IndexName: aws.String(MemberPersonIndex), KeySchema: []types.KeySchemaElement{hash("personKey"), rng("rosterKey")},
				Projection: &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: []string{"groupId"}},
			}},
		},
		{
			TableName:            aws.String(t.Health),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{s("personKey")},
			KeySchema:            []types.KeySchemaElement{hash("personKey")},
		},
		{
			TableName:            aws.String(t.DailyLists),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{s("groupId"), s("date")},
			KeySchema:            []types.KeySchemaElement{hash("groupId"), rng("date")},
		},
		{
			TableName:            aws.String(t.RefreshRuns),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{s("date"), s("part")},
			KeySchema:            []types.KeySchemaElement{hash("date"), rng("part")},
		},
		{
			TableName:            aws.String(t.Registry),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{s("personKey")},
			KeySchema:            []types.KeySchemaElement{hash("personKey")},
		},
		{
			TableName:            aws.String(t.RegistryIndex),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{s("token"), s("communityPerson")},
			KeySchema:            []types.KeySchemaElement{hash("token"), rng("communityPerson")},
		},
		{
			TableName:            aws.String(t.Imports),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{s("importId")},
			KeySchema:            []types.KeySchemaElement{hash("importId")},
		},
		{
			TableName:            aws.String(t.ImportErrors),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{s("importId"), n("firstLine")},
			KeySchema:            []types.KeySchemaElement{hash("importId"), rng("firstLine")},
		},
		{
			TableName:            aws.String(t.Lists),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{s("listId")},
			KeySchema:            []types.KeySchemaElement{hash("listId")},
		},
		{
			TableName:            aws.String(t.ListChunks),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{s("listId"), n("chunk")},
			KeySchema:            []types.KeySchemaElement{hash("listId"), rng("chunk")},
		},
		{
			TableName:            aws.String(t.Tasks),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{s("taskId"), s("gridCode"), s("gridSort"), s("openReason")},
			KeySchema:            []types.KeySchemaElement{hash("taskId")},
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
				{IndexName: aws.String(TaskGridIndex), KeySchema: []types.KeySchemaElement{hash("gridCode"), rng("gridSort")}, Projection: all},
				// Sparse: only open and revisit tasks carry openReason.
				{IndexName: aws.String(TaskOpenIndex), KeySchema: []types.KeySchemaElement{hash("openReason"), rng("taskId")}, Projection: keysOnly},
			},
		},
		{
			TableName:            aws.String(t.Reconciliations),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{s("reconciliationId")},
			KeySchema:            []types.KeySchemaElement{hash("reconciliationId")},
		},
		{
			TableName:            aws.String(t.DailyCounts),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{s("month"), s("dayShard")},
			KeySchema:            []types.KeySchemaElement{hash("month"), rng("dayShard")},
		},
		{
			TableName:            aws.String(t.Audit),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{s("personKey"), s("auditId"), s("actor")},
			KeySchema:            []types.KeySchemaElement{hash("personKey"), rng("auditId")},
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
				{IndexName: aws.String(AuditActorIndex), KeySchema: []types.KeySchemaElement{hash("actor"), rng("auditId")}, Projection: all},
			},
		},
	}
	// A deployment or test names only the tables it uses.
	return slices.DeleteFunc(specs, func(in *dynamodb.CreateTableInput) bool { return aws.ToString(in.TableName) == "" })
}

// TTLAttribute is the attribute DynamoDB expires reports, alerts, daily
// lists, refresh runs, imports and their errors, lists and their chunks,
// tasks and audit records by.
const TTLAttribute = "expiresAt"

// TTLTables are the tables whose items expire by TTLAttribute.
func TTLTables(t Tables) []string {
	return slices.DeleteFunc([]string{
		t.Reports, t.Alerts, t.DailyLists, t.RefreshRuns,
		t.Imports, t.ImportErrors, t.Lists, t.ListChunks, t.Tasks, t.Audit,
	}, func(name string) bool { return name == "" })
}

// CreateTables creates the tables if missing and turns on TTL where data
// expires (for local and test runs; the cloud has template.yaml).
func CreateTables(ctx context.Context, c *dynamodb.Client, t Tables) error {
	for _, in := range TableSpecs(t) {
		_, err := c.CreateTable(ctx, in)
		var inUse *types.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) {
			return fmt.Errorf("create table %s: %w", *in.TableName, err)
		}
	}
	for _, name := range TTLTables(t) {
		_, err := c.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName:               aws.String(name),
			TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(TTLAttribute), Enabled: aws.Bool(true)},
		})
		if err != nil && !isTTLAlreadyOn(err) {
			return fmt.Errorf("ttl on %s: %w", name, err)
		}
	}
	return nil
}

func isTTLAlreadyOn(err error) bool {
	var v interface{ ErrorMessage() string }
	return errors.As(err, &v) && v.ErrorMessage() == "TimeToLive is already enabled"
}
