package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"gridcode/shared/alert"
	"gridcode/shared/report"
)

var (
	_ alert.Ledger   = (*Store)(nil)
	_ alert.Outbox   = (*Store)(nil)
	_ alert.Replayer = (*Store)(nil)
)

// Due implements alert.Ledger: pending alerts whose retry time has come,
// then sending ones whose lease ran out, each from the status index.
func (s *Store) Due(ctx context.Context, now time.Time, limit int) ([]alert.Alert, error) {
	nowMs := expression.Value(now.UnixMilli())
	retryDue := expression.Or(expression.AttributeNotExists(expression.Name("notBefore")), expression.Name("notBefore").LessThanEqual(nowMs))
	out, err := s.queryStatus(ctx, alert.Pending, retryDue, limit)
	if err != nil || len(out) >= limit {
		return out, err
	}
	lapsed := expression.Name("claimedUntil").LessThan(nowMs)
	more, err := s.queryStatus(ctx, alert.Sending, lapsed, limit-len(out))
	return append(out, more...), err
}

func (s *Store) queryStatus(ctx context.Context, status alert.Status, filter expression.ConditionBuilder, limit int) ([]alert.Alert, error) {
	expr, err := expression.NewBuilder().
		WithKeyCondition(expression.Key("status").Equal(expression.Value(status))).
		WithFilter(filter).Build()
	if err != nil {
		return nil, fmt.Errorf("due alerts: %w", err)
	}
	var out []alert.Alert
	p := dynamodb.NewQueryPaginator(s.api, &dynamodb.QueryInput{
		TableName:                 aws.String(s.tables.Alerts),
		IndexName:                 aws.String(AlertStatusIndex),
		KeyConditionExpression:    expr.KeyCondition(),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		Limit:                     aws.Int32(int32(min(limit, 500))),
	})
	for p.HasMorePages() && len(out) < limit {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("due alerts (%s): %w", status, err)
		}
		for _, item := range page.Items {
			if len(out) == limit {
				break
			}
			var a alert.Alert
			if err := unmarshal(item, &a); err != nil {
				return nil, fmt.Errorf("decode alert: %w", err)
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// Claim implements alert.Ledger with one conditional UpdateItem.
func (s *Store) Claim(ctx context.Context, id string, now, until time.Time) (alert.Alert, bool, error) {
	nowMs := expression.Value(now.UnixMilli())
	due := expression.Or(
		expression.And(
			expression.Name("status").Equal(expression.Value(alert.Pending)),
			expression.Or(expression.AttributeNotExists(expression.Name("notBefore")), expression.Name("notBefore").LessThanEqual(nowMs)),
		),
		expression.And(
			expression.Name("status").Equal(expression.Value(alert.Sending)),
			expression.Name("claimedUntil").LessThan(nowMs),
		),
	)
	update := expression.Set(expression.Name("status"), expression.Value(alert.Sending)).
		Set(expression.Name("claimedUntil"), expression.Value(until.UnixMilli())).
		Add(expression.Name("attempts"), expression.Value(1))
	expr, err := expression.NewBuilder().WithCondition(due).WithUpdate(update).Build()
	if err != nil {
		return alert.Alert{}, false, fmt.Errorf("claim alert %s: %w", id, err)
	}
	out, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.tables.Alerts),
		Key:                       alertKey(id),
		ConditionExpression:       expr.Condition(),
		UpdateExpression:          expr.Update(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ReturnValues:              types.ReturnValueAllNew,
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return alert.Alert{}, false, nil
	}
	if err != nil {
		return alert.Alert{}, false, fmt.Errorf("claim alert %s: %w", id, err)
	}
	var a alert.Alert
	if err := unmarshal(out.Attributes, &a); err != nil {
		return alert.Alert{}, false, fmt.Errorf("decode alert %s: %w", id, err)
	}
	return a, true, nil
}

// Settle implements alert.Ledger: the alert is written back whole,
// conditional on the claim still being the caller's; a failed report SMS
// marks the report in the same transaction.
func (s *Store) Settle(ctx context.Context, id string, claimedUntil time.Time, o alert.Outcome) error {
	a, err := s.Alert(ctx, id)
	if err != nil {
		return err
	}
	if a.Status != alert.Sending || a.ClaimedUntil != claimedUntil.UnixMilli() {
		return fmt.Errorf("settle alert %s: %w", id, alert.ErrClaimLost)
	}
	a.Apply(o)
	item, err := marshal(a)
	if err != nil {
		return fmt.Errorf("marshal alert %s: %w", id, err)
	}
	ours := expression.And(
		expression.Name("status").Equal(expression.Value(alert.Sending)),
		expression.Name("claimedUntil").Equal(expression.Value(claimedUntil.UnixMilli())),
	)
	cond, err := expression.NewBuilder().WithCondition(ours).Build()
	if err != nil {
		return fmt.Errorf("settle alert %s: %w", id, err)
	}
	put := &types.Put{
		TableName:                 aws.String(s.tables.Alerts),
		Item:                      item,
		ConditionExpression:       cond.Condition(),
		ExpressionAttributeNames:  cond.Names(),
		ExpressionAttributeValues: cond.Values(),
	}
	items := []types.TransactWriteItem{{Put: put}}
	if a.Status == alert.Failed && a.ReportID != "" {
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName:           aws.String(s.tables.Reports),
			Key:                 map[string]types.AttributeValue{"reportId": &types.AttributeValueMemberS{Value: a.ReportID}},
			UpdateExpression:    aws.String("SET followUp = :f"),
			ConditionExpression: aws.String("attribute_exists(reportId)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":f": &types.AttributeValueMemberS{Value: report.FollowUpCall},
			},
		}})
	}
	_, err = s.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var cancelled *types.TransactionCanceledException
	if errors.As(err, &cancelled) && len(items) == 2 && len(cancelled.CancellationReasons) == 2 &&
		aws.ToString(cancelled.CancellationReasons[0].Code) != "ConditionalCheckFailed" &&
		aws.ToString(cancelled.CancellationReasons[1].Code) == "ConditionalCheckFailed" {
		// The report expired with its retention: nothing to follow up, and
		// the alert is settled all the same.
		_, err = s.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items[:1]})
	}
	if cancelledFor(err, "ConditionalCheckFailed") {
		return fmt.Errorf("settle alert %s: %w", id, alert.ErrClaimLost)
	}
	if err != nil {
		return fmt.Errorf("settle alert %s: %w", id, err)
	}
	return nil
}

func alertKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"alertId": &types.AttributeValueMemberS{Value: id}}
}

// Enqueue implements alert.Outbox with a conditional PutItem.
func (s *Store) Enqueue(ctx context.Context, a alert.Alert) (bool, error) {
	item, err := marshal(a)
	if err != nil {
		return false, fmt.Errorf("marshal alert %s: %w", a.ID, err)
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.tables.Alerts),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(alertId)"),
	})
	var exists *types.ConditionalCheckFailedException
	if errors.As(err, &exists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("enqueue alert %s: %w", a.ID, err)
	}
	return true, nil
}

// Failed implements alert.Replayer from the status index.
func (s *Store) Failed(ctx context.Context, limit int) ([]alert.Alert, error) {
	return s.queryStatus(ctx, alert.Failed, expression.AttributeExists(expression.Name("alertId")), limit)
}

// Requeue implements alert.Replayer: the alert is written back whole,
// conditional on it still being failed.
func (s *Store) Requeue(ctx context.Context, id string) (bool, error) {
	a, err := s.Alert(ctx, id)
	if err != nil || a.Status != alert.Failed {
		return false, err
	}
	a.Requeue()
	item, err := marshal(a)
	if err != nil {
		return false, fmt.Errorf("marshal alert %s: %w", id, err)
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.tables.Alerts),
		Item:                      item,
		ConditionExpression:       aws.String("#s = :failed"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":failed": &types.AttributeValueMemberS{Value: string(alert.Failed)}},
	})
	var changed *types.ConditionalCheckFailedException
	if errors.As(err, &changed) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("requeue alert %s: %w", id, err)
	}
	return true, nil
}
