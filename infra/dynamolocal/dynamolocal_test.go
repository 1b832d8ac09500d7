package dynamolocal_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"gridcode/infra/dynamolocal"
)

func TestMain(m *testing.M) { dynamolocal.Main(m) }

func createTable(t *testing.T, c *dynamodb.Client, name string) {
	t.Helper()
	ctx := context.Background()
	_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
		},
		BillingMode: types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("CreateTable %s: %v", name, err)
	}
	w := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 10*time.Second); err != nil {
		t.Fatalf("waiting for table %s: %v", name, err)
	}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func TestPutGet(t *testing.T) {
	c := dynamolocal.Client(t)
	ctx := context.Background()
	createTable(t, c, "putget")

	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String("putget"),
		Item:      map[string]types.AttributeValue{"pk": str("a"), "v": str("hello")},
	})
	if err != nil {
		t.Fatalf("PutItem: %v", err)
	}
	out, err := c.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String("putget"),
		Key:            map[string]types.AttributeValue{"pk": str("a")},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	v, ok := out.Item["v"].(*types.AttributeValueMemberS)
	if !ok || v.Value != "hello" {
		t.Fatalf("GetItem returned %#v, want v=hello", out.Item)
	}
}

func TestTransactionConditionCheckFails(t *testing.T) {
	c := dynamolocal.Client(t)
	ctx := context.Background()
	createTable(t, c, "txn")

	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String("txn"),
		Item:      map[string]types.AttributeValue{"pk": str("guard"), "state": str("closed")},
	})
	if err != nil {
		t.Fatalf("PutItem: %v", err)
	}

	txn := func(want string) error {
		_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			TransactItems: []types.TransactWriteItem{
				{ConditionCheck: &types.ConditionCheck{
					TableName:                 aws.String("txn"),
					Key:                       map[string]types.AttributeValue{"pk": str("guard")},
					ConditionExpression:       aws.String("#s = :want"),
					ExpressionAttributeNames:  map[string]string{"#s": "state"},
					ExpressionAttributeValues: map[string]types.AttributeValue{":want": str(want)},
				}},
				{Put: &types.Put{
					TableName: aws.String("txn"),
					Item:      map[string]types.AttributeValue{"pk": str("written-" + want)},
				}},
			},
		})
		return err
	}

	// The condition is false: the whole transaction must be cancelled.
	err = txn("open")
	var canceled *types.TransactionCanceledException
	if !errors.As(err, &canceled) {
		t.Fatalf("TransactWriteItems with failing ConditionCheck: got %v, want TransactionCanceledException", err)
	}
	if len(canceled.CancellationReasons) != 2 || aws.ToString(canceled.CancellationReasons[0].Code) != "ConditionalCheckFailed" {
		t.Errorf("cancellation reasons = %+v, want [ConditionalCheckFailed None]", canceled.CancellationReasons)
	}
	if !strings.Contains(err.Error(), "ConditionalCheckFailed") {
		t.Errorf("error %q does not mention ConditionalCheckFailed", err)
	}
	assertItem(t, c, "written-open", false)

	// The condition is true: the put goes through.
	if err := txn("closed"); err != nil {
		t.Fatalf("TransactWriteItems with passing ConditionCheck: %v", err)
	}
	assertItem(t, c, "written-closed", true)
}

func assertItem(t *testing.T, c *dynamodb.Client, pk string, want bool) {
	t.Helper()
	out, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName:      aws.String("txn"),
		Key:            map[string]types.AttributeValue{"pk": str(pk)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("GetItem %s: %v", pk, err)
	}
	if got := out.Item != nil; got != want {
		t.Fatalf("item %s exists = %v, want %v", pk, got, want)
	}
}

func TestEndpointSameInstance(t *testing.T) {
	ep := dynamolocal.Endpoint(t)
	if !strings.HasPrefix(ep, "http://127.0.0.1:") {
		t.Fatalf("Endpoint() = %q, want http://127.0.0.1:PORT", ep)
	}
	if ep2 := dynamolocal.Endpoint(t); ep2 != ep {
		t.Fatalf("Endpoint() changed: %q then %q", ep, ep2)
	}
	// A fresh client on the endpoint sees the same (shared) database.
	c := dynamolocal.NewClient(ep)
	createTable(t, c, "endpoint")
	out, err := dynamolocal.Client(t).ListTables(context.Background(), &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatalf("ListTables: %v", err)
	}
	found := false
	for _, n := range out.TableNames {
		found = found || n == "endpoint"
	}
	if !found {
		t.Fatalf("table created via Endpoint not visible via Client: %v", out.TableNames)
	}
}
