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

// alertStatuses are the statuses AlertCounts reads from the status index:
// every status the ledger sets.
var alertStatuses = []alert.Status{alert.Pending, alert.Sending, alert.Sent, alert.Failed}

// secondBound is the instant's second as a string prefix of RFC 3339:
// instants are stored as RFC 3339 strings in UTC with a fraction only when
// there is one ("…:03Z", "…:03.5Z"), which do not sort as the instants
// do within a second ('.' < 'Z'), but every instant of a second sorts
// at or after its prefix and before the next second's. The stores compare
// against these bounds and then check the parsed instant exactly.
func secondBound(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05") }

// instantRange is the key or filter range that holds every instant of
// [from, to): from's second up to the second after to's.
func instantRange(from, to time.Time) (lo, hi string) {
	return secondBound(from), secondBound(to.Truncate(time.Second).Add(time.Second))
}

func within(t, from, to time.Time) bool { return !t.Before(from) && t.Before(to) }

// statsProjection is what the statistics read of a report: never its
// sealed personal data.
var statsProjection = expression.NamesList(
	expression.Name("reportId"), expression.Name("gridCode"), expression.Name("riskLevel"), expression.Name("status"),
	expression.Name("followUp"), expression.Name("submittedAt"), expression.Name("contactDue"),
	expression.Name("firstContactAt"), expression.Name("closedAt"),
)

// ReportsBetween implements stats.Source with a paginated Scan of the
// reports table, filtered on submittedAt. The statistics read a day or a
// week of a table that keeps 60 days, so at whole-district scale (800,000
// reports a day at the peak) a GSI by submission day would be the next
// step: one Query per day instead of reading every report.
func (s *Store) ReportsBetween(ctx context.Context, from, to time.Time, fn func(report.Record) error) error {
	lo, hi := instantRange(from, to)
	attr := expression.Name("submittedAt")
	expr, err := expression.NewBuilder().WithFilter(
		attr.GreaterThanEqual(expression.Value(lo)).And(attr.LessThan(expression.Value(hi))),
	).WithProjection(statsProjection).Build()
	if err != nil {
		return fmt.Errorf("scan reports: %w", err)
	}
	p := dynamodb.NewScanPaginator(s.api, &dynamodb.ScanInput{
		TableName:                 aws.String(s.tables.Reports),
		FilterExpression:          expr.Filter(),
		ProjectionExpression:      expr.Projection(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("scan reports: %w", err)
		}
		for _, item := range page.Items {
			var r report.Record
			if err := unmarshal(item, &r); err != nil {
				return fmt.Errorf("decode report: %w", err)
			}
			if !within(r.SubmittedAt, from, to) {
				continue
			}
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// AlertCounts implements stats.Source with one Query per status on the
// alerts' status index (status, createdAt), reading only createdAt: the
// range of a day reads that day's alerts and no others, where a Scan would
// read 60 days of them.
func (s *Store) AlertCounts(ctx context.Context, from, to time.Time) (map[alert.Status]int, error) {
	lo, hi := instantRange(from, to)
	out := map[alert.Status]int{}
	for _, status := range alertStatuses {
		key := expression.Key("status").Equal(expression.Value(status)).
			And(expression.Key("createdAt").Between(expression.Value(lo), expression.Value(hi)))
		expr, err := expression.NewBuilder().WithKeyCondition(key).
			WithProjection(expression.NamesList(expression.Name("createdAt"))).Build()
		if err != nil {
			return nil, fmt.Errorf("count alerts: %w", err)
		}
		p := dynamodb.NewQueryPaginator(s.api, &dynamodb.QueryInput{
			TableName:                 aws.String(s.tables.Alerts),
			IndexName:                 aws.String(AlertStatusIndex),
			KeyConditionExpression:    expr.KeyCondition(),
			ProjectionExpression:      expr.Projection(),
			ExpressionAttributeNames:  expr.Names(),
			ExpressionAttributeValues: expr.Values(),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("count %s alerts: %w", status, err)
			}
			for _, item := range page.Items {
				at, err := createdAt(item)
				if err != nil {
					return nil, fmt.Errorf("count %s alerts: %w", status, err)
				}
				if within(at, from, to) {
					out[status]++
				}
			}
		}
	}
	return out, nil
}

func createdAt(item map[string]types.AttributeValue) (time.Time, error) {
	v, ok := item["createdAt"].(*types.AttributeValueMemberS)
	if !ok {
		return time.Time{}, errors.New("an alert without createdAt")
	}
	t, err := time.Parse(time.RFC3339Nano, v.Value)
	if err != nil {
		return time.Time{}, fmt.Errorf("an alert's createdAt: %w", err)
	}
	return t, nil
}
