package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"gridcode/shared/report"
)

// followUpAttributes are the report attributes UpdateFollowUp writes; the
// rest of the item (the form, the risk, the SMS ledger's followUp mark)
// stays as stored.
var followUpAttributes = []string{
	"status", "gridCode", "listKey", "contactDue", "firstContactAt", "closedAt", "followUps",
	TTLAttribute, // a follow-up moves the report's expiry (report.ExpiresAt)
	"version",    // last: the condition names it
}

// UpdateFollowUp implements report.FollowUpStore with one conditional
// UpdateItem of the follow-up attributes. A report stored before reports
// had versions has no version attribute: it counts as version 0. A new
// gridCode and listKey move the report in the grid index by themselves.
func (s *Store) UpdateFollowUp(ctx context.Context, r report.Record, fromVersion int) error {
	r.Version = fromVersion + 1
	// The attributes are encoded as Create encodes the whole report, so a
	// follow-up never changes how a field is stored.
	item, err := marshal(r)
	if err != nil {
		return fmt.Errorf("marshal report %s: %w", r.ID, err)
	}
	names := map[string]string{"#id": "reportId"}
	values := map[string]types.AttributeValue{":from": &types.AttributeValueMemberN{Value: strconv.Itoa(fromVersion)}}
	var set, remove []string
	for i, attr := range followUpAttributes {
		name := "#a" + strconv.Itoa(i)
		names[name] = attr
		if v, ok := item[attr]; ok {
			values[":a"+strconv.Itoa(i)] = v
			set = append(set, name+" = :a"+strconv.Itoa(i))
		} else {
			remove = append(remove, name) // an empty list or a zero time omitted
		}
	}
	update := "SET " + strings.Join(set, ", ")
	if len(remove) > 0 {
		update += " REMOVE " + strings.Join(remove, ", ")
	}
	version := "#a" + strconv.Itoa(len(followUpAttributes)-1)
	cond := "attribute_exists(#id) AND " + version + " = :from"
	if fromVersion == 0 {
		cond = "attribute_exists(#id) AND (attribute_not_exists(" + version + ") OR " + version + " = :from)"
	}
	_, err = s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.tables.Reports),
		Key:                                 map[string]types.AttributeValue{"reportId": sAttr(r.ID)},
		UpdateExpression:                    aws.String(update),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var failed *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &failed) && failed.Item == nil:
		return fmt.Errorf("update follow-up of report %s: %w", r.ID, report.ErrNotFound)
	case errors.As(err, &failed):
		return fmt.Errorf("update follow-up of report %s from version %d: %w", r.ID, fromVersion, report.ErrConflict)
	case err != nil:
		return fmt.Errorf("update follow-up of report %s: %w", r.ID, err)
	}
	return nil
}
