package dynamo

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"gridcode/shared/alert"
	"gridcode/shared/dates"
	"gridcode/shared/report"
	"gridcode/shared/risk"
	"gridcode/shared/stats"
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
// week of a table that keeps RETENTION_DAYS (28 by default) and more, so
// at whole-district scale (800,000 reports a day at the peak) a GSI by
// submission day would be the next step: one Query per day instead of
// reading every report.
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

// The DailyCounts table: key month (YYYY-MM) + dayShard ("YYYY-MM-DD#07"),
// attributes date and one number per risk level (none, low, medium, high,
// as stats.Day's fields are named). Every report's transaction adds 1 to
// its day's level in one of dailyCountShards items, picked by the report
// id: a transaction conflicts with any other in flight on the same item,
// so one item a day would make concurrent reports retry each other. A
// month is one partition key, so a range of days is read by one Query a
// month. The items hold counts only and never expire.
const dailyCountShards = 16

// countReport is the update of the transaction that creates r, adding it
// to its day's count. The shard derives from the id, so a retried
// transaction (the same client token) is the same request.
func (s *Store) countReport(r report.Record) *types.Update {
	date := dates.Today(r.SubmittedAt)
	level := r.RiskLevel
	if !level.Valid() {
		level = risk.None // as stats.Day.Add counts it
	}
	h := fnv.New32a()
	h.Write([]byte(r.ID))
	return &types.Update{
		TableName: aws.String(s.tables.DailyCounts),
		Key: map[string]types.AttributeValue{
			"month":    sAttr(date[:len("2006-01")]),
			"dayShard": sAttr(fmt.Sprintf("%s#%02d", date, h.Sum32()%dailyCountShards)),
		},
		UpdateExpression:          aws.String("SET #date = :date ADD #level :one"),
		ExpressionAttributeNames:  map[string]string{"#date": "date", "#level": string(level)},
		ExpressionAttributeValues: map[string]types.AttributeValue{":date": sAttr(date), ":one": &types.AttributeValueMemberN{Value: "1"}},
	}
}

// KeptDays implements stats.Source with one consistent Query per month of
// the range, summing each day's shards.
func (s *Store) KeptDays(ctx context.Context, from, to string) ([]stats.Day, error) {
	first, ok1 := dates.Parse(from)
	last, ok2 := dates.Parse(to)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("kept counts %q to %q: not dates", from, to)
	}
	byDate := map[string]*stats.Day{}
	var order []string
	for month := first.AddDate(0, 0, 1-first.Day()); !month.After(last); month = month.AddDate(0, 1, 0) {
		shards, err := queryAll[stats.Day](ctx, s, &dynamodb.QueryInput{
			TableName:                aws.String(s.tables.DailyCounts),
			ConsistentRead:           aws.Bool(true),
			KeyConditionExpression:   aws.String("#m = :m AND #d BETWEEN :from AND :to"),
			ExpressionAttributeNames: map[string]string{"#m": "month", "#d": "dayShard"},
			// '#' sorts before the digits of a shard, '~' after them.
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":m": sAttr(month.Format("2006-01")), ":from": sAttr(from + "#"), ":to": sAttr(to + "#~"),
			},
		}, "kept counts")
		if err != nil {
			return nil, err
		}
		for _, shard := range shards {
			day := byDate[shard.Date]
			if day == nil {
				day = &stats.Day{Date: shard.Date}
				byDate[shard.Date] = day
				order = append(order, shard.Date)
			}
			day.None, day.Low, day.Medium, day.High = day.None+shard.None, day.Low+shard.Low, day.Medium+shard.Medium, day.High+shard.High
			day.Total = day.None + day.Low + day.Medium + day.High
		}
	}
	out := make([]stats.Day, len(order))
	for i, date := range order {
		out[i] = *byDate[date]
	}
	return out, nil
}
