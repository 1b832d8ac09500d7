// Package dynamo is the DynamoDB adapter of the report and district ports:
// one table per entity, a conditional transaction for a report and its
// alert, a GSI for a grid's reports.
package dynamo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"gridcode/shared/alert"
	"gridcode/shared/audit"
	"gridcode/shared/district"
	"gridcode/shared/grid"
	"gridcode/shared/group"
	"gridcode/shared/health"
	"gridcode/shared/registry"
	"gridcode/shared/report"
	"gridcode/shared/stats"
	"gridcode/shared/worklist"
)

// Tables names the tables; each function gets only the names it uses.
type Tables struct {
	Reports     string
	Alerts      string
	Grids       string
	Rules       string
	Groups      string
	Members     string
	Health      string
	DailyLists  string
	RefreshRuns string
	// DailyCounts keeps each day's reports by risk level (see stats.go):
	// every function that creates reports, and the statistics, name it.
	DailyCounts string
	// Grid work (see registry.go, worklist.go, audit.go).
	Registry        string
	RegistryIndex   string
	Imports         string
	ImportErrors    string
	Lists           string
	ListChunks      string
	Tasks           string
	Reconciliations string
	Audit           string
}

// GridIndex is the reports table's GSI by grid, newest last.
const GridIndex = "byGrid"

// API is the part of the DynamoDB client this adapter calls.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store is the DynamoDB adapter.
type Store struct {
	api    API
	tables Tables
}

var (
	_ report.Store     = (*Store)(nil)
	_ district.Store   = (*Store)(nil)
	_ group.Store      = (*Store)(nil)
	_ group.DailyStore = (*Store)(nil)
	_ group.RunStore   = (*Store)(nil)
	_ health.Store     = (*Store)(nil)

	_ registry.Store       = (*Store)(nil)
	_ registry.ImportStore = (*Store)(nil)
	_ worklist.Store       = (*Store)(nil)
	_ report.FollowUpStore = (*Store)(nil)
	_ stats.Source         = (*Store)(nil)
	_ audit.Log            = (*Store)(nil)
)

// New wraps a client.
func New(api API, tables Tables) *Store { return &Store{api: api, tables: tables} }

// getItem reads one item with a strongly consistent read and decodes it;
// a missing item is notFound, wrapped with what it is.
func getItem[T any](ctx context.Context, s *Store, table string, key map[string]types.AttributeValue, what string, notFound error) (T, error) {
	var v T
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return v, fmt.Errorf("get %s: %w", what, err)
	}
	if out.Item == nil {
		return v, fmt.Errorf("%s: %w", what, notFound)
	}
	if err := unmarshal(out.Item, &v); err != nil {
		return v, fmt.Errorf("decode %s: %w", what, err)
	}
	return v, nil
}

// queryAll reads every page of a Query and decodes each item as T; what
// names the items in errors.
func queryAll[T any](ctx context.Context, s *Store, in *dynamodb.QueryInput, what string) ([]T, error) {
	var out []T
	p := dynamodb.NewQueryPaginator(s.api, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", what, err)
		}
		for _, item := range page.Items {
			var v T
			if err := unmarshal(item, &v); err != nil {
				return nil, fmt.Errorf("decode %s: %w", what, err)
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// The domain types' json tags name the attributes, so one set of tags
// serves the API, the embedded store and DynamoDB.
func marshal(v any) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMapWithOptions(v, func(o *attributevalue.EncoderOptions) { o.TagKey = "json" })
}

func unmarshal(item map[string]types.AttributeValue, v any) error {
	return attributevalue.UnmarshalMapWithOptions(item, v, func(o *attributevalue.DecoderOptions) { o.TagKey = "json" })
}

// Create implements report.Store with one TransactWriteItems: the report
// if its id is new, and its alert.
func (s *Store) Create(ctx context.Context, r report.Record, a alert.Alert) (report.Record, bool, error) {
	ritem, err := marshal(r)
	if err != nil {
		return report.Record{}, false, fmt.Errorf("marshal report %s: %w", r.ID, err)
	}
	aitem, err := marshal(a)
	if err != nil {
		return report.Record{}, false, fmt.Errorf("marshal alert %s: %w", a.ID, err)
	}
	in := &dynamodb.TransactWriteItemsInput{
		TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{
				TableName:           aws.String(s.tables.Reports),
				Item:                ritem,
				ConditionExpression: aws.String("attribute_not_exists(reportId)"),
			}},
			{Put: &types.Put{
				TableName:           aws.String(s.tables.Alerts),
				Item:                aitem,
				ConditionExpression: aws.String("attribute_not_exists(alertId)"),
			}},
			{Update: s.countReport(r)},
		},
		// The SDK retries a timed-out call with the same token, so a write
		// that did commit is not reported back as a duplicate.
		ClientRequestToken: aws.String(requestToken(s.tables.Reports, r.ID)),
	}
	for attempt := 1; ; attempt++ {
		_, err = s.api.TransactWriteItems(ctx, in)
		if err == nil {
			return r, true, nil
		}
		retry := isConflict(err)
		if !retry && isExisting(err) {
			// The person reported this arrival before.
			existing, gerr := s.Get(ctx, r.ID)
			if gerr == nil {
				return existing, false, nil
			}
			if !errors.Is(gerr, report.ErrNotFound) {
				return report.Record{}, false, fmt.Errorf("create report %s: %v, then: %w", r.ID, err, gerr)
			}
			// No report, yet the token was taken: an earlier submission of
			// this report with other details failed within DynamoDB's
			// 10-minute token window. Write again without the token.
			in.ClientRequestToken = nil
			retry = true
		}
		if !retry || attempt == maxTransactAttempts {
			return report.Record{}, false, fmt.Errorf("create report %s: %w", r.ID, err)
		}
		select {
		case <-ctx.Done():
			return report.Record{}, false, ctx.Err()
		case <-time.After(time.Duration(attempt*attempt) * 20 * time.Millisecond):
		}
	}
}

// maxTransactAttempts bounds retries of a transaction that lost a
// conflict with another one on the same items (two submits of one person
// at once, two approvals of one roster).
const maxTransactAttempts = 4

// isExisting says the transaction failed because the report (or its
// alert) is already there, or because its token was used by an earlier
// submission of the same report with other details.
func isExisting(err error) bool {
	var idempotent *types.IdempotentParameterMismatchException
	return errors.As(err, &idempotent) || cancelledFor(err, "ConditionalCheckFailed")
}

// isConflict says another transaction on the same items was in flight.
func isConflict(err error) bool {
	var conflict *types.TransactionConflictException
	return errors.As(err, &conflict) || cancelledFor(err, "TransactionConflict")
}

// cancelledFor says a transaction was cancelled and one of its items for
// the given reason.
func cancelledFor(err error, reason string) bool {
	var cancelled *types.TransactionCanceledException
	if !errors.As(err, &cancelled) {
		return false
	}
	for _, r := range cancelled.CancellationReasons {
		if aws.ToString(r.Code) == reason {
			return true
		}
	}
	return false
}

// requestToken is unique per table and report and at most 36 characters.
func requestToken(table, id string) string {
	sum := sha256.Sum256([]byte(table + "/" + id))
	return hex.EncodeToString(sum[:16])
}

// Get implements report.Store with a strongly consistent read, so a
// duplicate submit right after the first sees it.
func (s *Store) Get(ctx context.Context, id string) (report.Record, error) {
	return getItem[report.Record](ctx, s, s.tables.Reports, map[string]types.AttributeValue{"reportId": &types.AttributeValueMemberS{Value: id}}, "report "+id, report.ErrNotFound)
}

// ListGrid implements report.Store with a Query on the grid index, newest
// first. A status filter is applied by DynamoDB after the key range, so the
// loop keeps reading until the page is full.
func (s *Store) ListGrid(ctx context.Context, q report.GridQuery) (report.Page, error) {
	key := expression.Key("gridCode").Equal(expression.Value(q.GridCode))
	// A list key is "<instant>#<id>", so the bare instant of Until sorts
	// before every report at that instant: the bound is exclusive.
	since, until := report.ListKeyBound(q.Since), report.ListKeyBound(q.Until)
	switch {
	case !q.Since.IsZero() && !q.Until.IsZero():
		key = key.And(expression.Key("listKey").Between(expression.Value(since), expression.Value(until)))
	case !q.Since.IsZero():
		key = key.And(expression.Key("listKey").GreaterThanEqual(expression.Value(since)))
	case !q.Until.IsZero():
		key = key.And(expression.Key("listKey").LessThan(expression.Value(until)))
	}
	b := expression.NewBuilder().WithKeyCondition(key)
	if q.Status != "" {
		b = b.WithFilter(expression.Name("status").Equal(expression.Value(q.Status)))
	}
	expr, err := b.Build()
	if err != nil {
		return report.Page{}, fmt.Errorf("query grid %s: %w", q.GridCode, err)
	}
	var start map[string]types.AttributeValue
	if q.After != "" {
		_, id, ok := report.SplitListKey(q.After)
		if !ok {
			return report.Page{}, fmt.Errorf("query grid %s: malformed position %q", q.GridCode, q.After)
		}
		start = map[string]types.AttributeValue{
			"gridCode": &types.AttributeValueMemberS{Value: q.GridCode},
			"listKey":  &types.AttributeValueMemberS{Value: q.After},
			"reportId": &types.AttributeValueMemberS{Value: id},
		}
	}
	var page report.Page
	for {
		out, err := s.api.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.tables.Reports),
			IndexName:                 aws.String(GridIndex),
			KeyConditionExpression:    expr.KeyCondition(),
			FilterExpression:          expr.Filter(),
			ExpressionAttributeNames:  expr.Names(),
			ExpressionAttributeValues: expr.Values(),
			ScanIndexForward:          aws.Bool(false),
			ExclusiveStartKey:         start,
			Limit:                     aws.Int32(int32(q.Limit + 1)),
		})
		if err != nil {
			return report.Page{}, fmt.Errorf("query grid %s: %w", q.GridCode, err)
		}
		for _, item := range out.Items {
			if len(page.Records) == q.Limit {
				page.Next = page.Records[len(page.Records)-1].ListKey
				return page, nil
			}
			var r report.Record
			if err := unmarshal(item, &r); err != nil {
				return report.Page{}, fmt.Errorf("decode grid %s report: %w", q.GridCode, err)
			}
			page.Records = append(page.Records, r)
		}
		if out.LastEvaluatedKey == nil {
			return page, nil
		}
		start = out.LastEvaluatedKey
	}
}

// ListGrids implements district.Store. The grids table holds a few hundred
// items and is read whole, so a Scan is the right call here.
func (s *Store) ListGrids(ctx context.Context) ([]grid.Grid, error) {
	var out []grid.Grid
	p := dynamodb.NewScanPaginator(s.api, &dynamodb.ScanInput{TableName: aws.String(s.tables.Grids), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan grids: %w", err)
		}
		for _, item := range page.Items {
			var g grid.Grid
			if err := unmarshal(item, &g); err != nil {
				return nil, fmt.Errorf("decode grid: %w", err)
			}
			out = append(out, g)
		}
	}
	return out, nil
}

// PutGrids implements district.Store with BatchWriteItem, retrying what
// DynamoDB leaves unprocessed.
func (s *Store) PutGrids(ctx context.Context, grids []grid.Grid) error {
	reqs := make([]types.WriteRequest, 0, len(grids))
	for _, g := range grids {
		item, err := marshal(g)
		if err != nil {
			return fmt.Errorf("marshal grid %s: %w", g.Code, err)
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	return s.batchWrite(ctx, s.tables.Grids, reqs)
}

type ruleSetItem struct {
	Name      string    `json:"ruleSet"`
	Body      string    `json:"body"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// GetRuleSet implements district.Store.
func (s *Store) GetRuleSet(ctx context.Context, name string) ([]byte, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.tables.Rules),
		Key:            map[string]types.AttributeValue{"ruleSet": &types.AttributeValueMemberS{Value: name}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get rule set %s: %w", name, err)
	}
	if out.Item == nil {
		return nil, district.ErrNoRuleSet
	}
	var it ruleSetItem
	if err := unmarshal(out.Item, &it); err != nil {
		return nil, fmt.Errorf("decode rule set %s: %w", name, err)
	}
	return []byte(it.Body), nil
}

// PutRuleSet implements district.Store: one item, replaced whole.
func (s *Store) PutRuleSet(ctx context.Context, name string, body []byte) error {
	item, err := marshal(ruleSetItem{Name: name, Body: string(body), UpdatedAt: time.Now().UTC()})
	if err != nil {
		return err
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.tables.Rules), Item: item})
	if err != nil {
		return fmt.Errorf("put rule set %s: %w", name, err)
	}
	return nil
}

// Alert returns one alert of the outbox.
func (s *Store) Alert(ctx context.Context, id string) (alert.Alert, error) {
	return getItem[alert.Alert](ctx, s, s.tables.Alerts, alertKey(id), "alert "+id, alert.ErrNotFound)
}
