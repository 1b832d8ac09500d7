package dynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"gridcode/shared/audit"
)

// The audit table: key personKey + auditId, TTL expiresAt. A person's
// records are one partition, by id, which is time-ordered.

// AuditActorIndex is the audit table's GSI by actor (actor, auditId, all
// attributes): what one staff member read or changed.
const AuditActorIndex = "byActor"

// auditWorkers bounds the concurrent writes of one Append (a search
// result audits up to a page of people at once).
const auditWorkers = 8

// Append implements audit.Log: each record one PutItem on the condition
// that its id is new, so a record is never replaced; the item the
// condition failed on tells an equal record (written) from another
// (audit.ErrExists). Records are written in parallel: when one fails,
// others of the call may be stored.
func (s *Store) Append(ctx context.Context, records []audit.Record) error {
	err := parallel(ctx, len(records), auditWorkers, func(i int) error {
		r := records[i]
		if r.ID == "" || r.PersonKey == "" {
			return fmt.Errorf("audit record #%d: without id or person key", i)
		}
		item, err := marshal(r)
		if err != nil {
			return fmt.Errorf("marshal audit record %s: %w", r.ID, err)
		}
		_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                           aws.String(s.tables.Audit),
			Item:                                item,
			ConditionExpression:                 aws.String("attribute_not_exists(auditId)"),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		var failed *types.ConditionalCheckFailedException
		switch {
		case errors.As(err, &failed):
			var stored audit.Record
			if err := unmarshal(failed.Item, &stored); err != nil {
				return fmt.Errorf("decode audit record %s: %w", r.ID, err)
			}
			if !stored.Equal(r) {
				return fmt.Errorf("append audit record %s: %w", r.ID, audit.ErrExists)
			}
		case err != nil:
			return fmt.Errorf("put audit record %s: %w", r.ID, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append %d audit records: %w", len(records), err)
	}
	return nil
}

// ByPerson implements audit.Log with a Query of the person's partition.
func (s *Store) ByPerson(ctx context.Context, personKey string) ([]audit.Record, error) {
	return s.auditQuery(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.tables.Audit),
		KeyConditionExpression:    aws.String("personKey = :k"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": sAttr(personKey)},
		ConsistentRead:            aws.Bool(true),
	})
}

// ByActor implements audit.Log with a Query of the byActor index (all
// attributes projected; eventually consistent, as every index).
func (s *Store) ByActor(ctx context.Context, actor string) ([]audit.Record, error) {
	return s.auditQuery(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.tables.Audit),
		IndexName:                 aws.String(AuditActorIndex),
		KeyConditionExpression:    aws.String("actor = :a"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":a": sAttr(actor)},
	})
}

func (s *Store) auditQuery(ctx context.Context, in *dynamodb.QueryInput) ([]audit.Record, error) {
	out, err := queryAll[audit.Record](ctx, s, in, "audit records")
	if err != nil {
		return nil, err
	}
	// The ids are time-ordered as written; order by the instant anyway, so
	// records from two clocks come oldest first.
	slices.SortStableFunc(out, func(a, b audit.Record) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}
