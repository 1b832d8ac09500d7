package dynamo

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"gridcode/shared/alert"
	"gridcode/shared/group"
	"gridcode/shared/health"
)

// The group code's tables:
//
//   - Groups: one item per group, key groupId, GSI byGrid (gridCode,
//     groupId). Besides the group it holds rosterKey, the partition of the
//     members table that is its current roster.
//   - Members: key rosterKey + personKey, GSI byPerson (personKey,
//     rosterKey) projecting groupId. A roster version lives under
//     "<group>#<version>#<token>", where the token is new for each
//     ReplaceRoster call, so two replacements of the same version never
//     write into each other's items; the group's first roster (version 0,
//     grown by approved joins) is "<group>#0". Join requests live under
//     "<group>#pending".
//   - Health: key personKey.
//   - DailyLists: key groupId + date, TTL expiresAt.
//   - RefreshRuns: key date + part ("plan" or "shard#<runId>#00001"), TTL
//     expiresAt (RunExpiry after the write).
const (
	// GroupGridIndex is the groups table's GSI by grid, by group id.
	GroupGridIndex = "byGrid"
	// MemberPersonIndex is the members table's GSI by person: every roster
	// item of one person, with its group id.
	MemberPersonIndex = "byPerson"
	// RunExpiry is how long refresh-run records are kept.
	RunExpiry = 90 * 24 * time.Hour
)

const (
	// batchWorkers is how many BatchWriteItem or BatchGetItem calls one
	// store call has in flight at once.
	batchWorkers = 8
	// healthWorkers bounds the concurrent conditional writes of WriteHealth.
	healthWorkers = 16
	// maxBatchAttempts bounds the calls for one batch while DynamoDB leaves
	// some of it unprocessed; the waits between them add up to about 13 s.
	maxBatchAttempts = 9
	// maxTransactAlerts is how many alerts fit one transaction next to the
	// item they come with (DynamoDB takes at most 100 actions).
	maxTransactAlerts = 99
	// dropTimeout bounds the clean-up of a roster's items.
	dropTimeout = 30 * time.Second
)

// groupItem is a group as stored.
type groupItem struct {
	group.Group
	RosterKey string `json:"rosterKey"`
}

// memberItem is a roster entry or join request as stored.
type memberItem struct {
	group.Member
	RosterKey string `json:"rosterKey"`
}

func rosterKey(groupID string, version int) string { return fmt.Sprintf("%s#%d", groupID, version) }

func pendingKey(groupID string) string { return groupID + "#pending" }

// newRosterKey names the items of one ReplaceRoster attempt.
func newRosterKey(groupID string, version int) string {
	return fmt.Sprintf("%s#%d#%s", groupID, version, strings.ToLower(rand.Text()[:12]))
}

func sAttr(v string) *types.AttributeValueMemberS { return &types.AttributeValueMemberS{Value: v} }

func groupKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"groupId": sAttr(id)}
}

func memberKey(roster, personKey string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"rosterKey": sAttr(roster), "personKey": sAttr(personKey)}
}

// CreateGroup implements group.Store with a conditional PutItem; a failed
// condition hands back the stored group.
func (s *Store) CreateGroup(ctx context.Context, g group.Group) (group.Group, bool, error) {
	item, err := marshal(groupItem{Group: g, RosterKey: rosterKey(g.ID, g.RosterVersion)})
	if err != nil {
		return group.Group{}, false, fmt.Errorf("marshal group %s: %w", g.ID, err)
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(s.tables.Groups),
		Item:                                item,
		ConditionExpression:                 aws.String("attribute_not_exists(groupId)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var exists *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &exists) && exists.Item != nil:
		var stored groupItem
		if err := unmarshal(exists.Item, &stored); err != nil {
			return group.Group{}, false, fmt.Errorf("decode group %s: %w", g.ID, err)
		}
		return stored.Group, false, nil
	case errors.As(err, &exists):
		stored, err := s.GetGroup(ctx, g.ID)
		return stored, false, err
	case err != nil:
		return group.Group{}, false, fmt.Errorf("create group %s: %w", g.ID, err)
	}
	return g, true, nil
}

// GetGroup implements group.Store with a strongly consistent read.
func (s *Store) GetGroup(ctx context.Context, id string) (group.Group, error) {
	it, err := s.groupItem(ctx, id)
	return it.Group, err
}

func (s *Store) groupItem(ctx context.Context, id string) (groupItem, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.tables.Groups),
		Key:            groupKey(id),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return groupItem{}, fmt.Errorf("get group %s: %w", id, err)
	}
	if out.Item == nil {
		return groupItem{}, fmt.Errorf("group %s: %w", id, group.ErrNotFound)
	}
	it, err := decodeGroup(out.Item)
	if err != nil {
		return groupItem{}, fmt.Errorf("group %s: %w", id, err)
	}
	return it, nil
}

// decodeGroup reads a group item; one stored before it had a roster key
// has the key of its version.
func decodeGroup(item map[string]types.AttributeValue) (groupItem, error) {
	var it groupItem
	if err := unmarshal(item, &it); err != nil {
		return groupItem{}, fmt.Errorf("decode group: %w", err)
	}
	if it.RosterKey == "" {
		it.RosterKey = rosterKey(it.ID, it.RosterVersion)
	}
	return it, nil
}

// GroupIDs implements group.Store. It runs once a day for the refresh and
// reads every group, so a Scan of the ids is the right call here.
func (s *Store) GroupIDs(ctx context.Context) ([]string, error) {
	var ids []string
	p := dynamodb.NewScanPaginator(s.api, &dynamodb.ScanInput{
		TableName:            aws.String(s.tables.Groups),
		ProjectionExpression: aws.String("groupId"),
		ConsistentRead:       aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan group ids: %w", err)
		}
		for _, item := range page.Items {
			id, ok := item["groupId"].(*types.AttributeValueMemberS)
			if !ok {
				return nil, fmt.Errorf("scan group ids: item without groupId")
			}
			ids = append(ids, id.Value)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// GridGroups implements group.Store with a Query on the grid index, which
// sorts by group id.
func (s *Store) GridGroups(ctx context.Context, gridCode string) ([]group.Group, error) {
	return queryAll[group.Group](ctx, s, &dynamodb.QueryInput{
		TableName:                 aws.String(s.tables.Groups),
		IndexName:                 aws.String(GroupGridIndex),
		KeyConditionExpression:    aws.String("gridCode = :g"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":g": sAttr(gridCode)},
	}, "groups of grid "+gridCode)
}

// ReplaceRoster implements group.Store. A roster of up to group.MaxRoster
// members does not fit one transaction, so the new version's items are
// batch-written under a roster key of their own first, and one conditional
// UpdateItem on the group then points it at them: readers only trust the
// group's roster key, so that update is the atomic moment. The items of a
// lost race are deleted again, and those of the replaced version after a
// successful one; both deletions are best-effort, since nothing reads the
// items of a roster key the group no longer names.
func (s *Store) ReplaceRoster(ctx context.Context, groupID string, fromVersion int, members []group.Member) (group.Group, error) {
	if len(members) > group.MaxRoster {
		return group.Group{}, fmt.Errorf("replace roster of %s: %d members, at most %d", groupID, len(members), group.MaxRoster)
	}
	cur, err := s.groupItem(ctx, groupID)
	if err != nil {
		return group.Group{}, err
	}
	if cur.RosterVersion != fromVersion {
		return group.Group{}, fmt.Errorf("replace roster of %s from version %d (now %d): %w", groupID, fromVersion, cur.RosterVersion, group.ErrConflict)
	}
	version := fromVersion + 1
	key := newRosterKey(groupID, version)
	// One item per person; the last entry of a person wins.
	seen := make(map[string]int, len(members))
	puts := make([]types.WriteRequest, 0, len(members))
	for _, m := range members {
		m.GroupID, m.Version = groupID, version
		item, err := marshal(memberItem{Member: m, RosterKey: key})
		if err != nil {
			return group.Group{}, fmt.Errorf("marshal member of %s: %w", groupID, err)
		}
		req := types.WriteRequest{PutRequest: &types.PutRequest{Item: item}}
		if i, ok := seen[m.PersonKey]; ok {
			puts[i] = req
			continue
		}
		seen[m.PersonKey] = len(puts)
		puts = append(puts, req)
	}
	if err := s.batchWrite(ctx, s.tables.Members, puts); err != nil {
		s.dropRoster(ctx, key)
		return group.Group{}, fmt.Errorf("replace roster of %s: %w", groupID, err)
	}

	out, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.tables.Groups),
		Key:                 groupKey(groupID),
		UpdateExpression:    aws.String("SET rosterVersion = :to, members = :n, rosterKey = :key"),
		ConditionExpression: aws.String("rosterVersion = :from"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":from": &types.AttributeValueMemberN{Value: fmt.Sprint(fromVersion)},
			":to":   &types.AttributeValueMemberN{Value: fmt.Sprint(version)},
			":n":    &types.AttributeValueMemberN{Value: fmt.Sprint(len(puts))},
			":key":  sAttr(key),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var now groupItem
	var failed *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		if err := unmarshal(out.Attributes, &now); err != nil {
			return group.Group{}, fmt.Errorf("decode group %s: %w", groupID, err)
		}
	case errors.As(err, &failed) && failed.Item != nil:
		// Either another replacement won, or the SDK retried a call whose
		// answer was lost and the first try did the flip.
		if err := unmarshal(failed.Item, &now); err != nil {
			return group.Group{}, fmt.Errorf("decode group %s: %w", groupID, err)
		}
	default:
		// Whether the flip happened is unknown until the group is read.
		var rerr error
		now, rerr = s.groupItem(ctx, groupID)
		if rerr != nil {
			// The items stay: they may be the group's roster now.
			return group.Group{}, fmt.Errorf("replace roster of %s: %w (then: %v)", groupID, err, rerr)
		}
	}
	if now.RosterKey != key {
		s.dropRoster(ctx, key)
		if err != nil && !errors.As(err, &failed) {
			return group.Group{}, fmt.Errorf("replace roster of %s: %w", groupID, err)
		}
		return group.Group{}, fmt.Errorf("replace roster of %s from version %d (now %d): %w", groupID, fromVersion, now.RosterVersion, group.ErrConflict)
	}
	s.dropRoster(ctx, cur.RosterKey)
	return now.Group, nil
}

// dropRoster deletes the items under one roster key as far as it can,
// even when the caller has given up.
func (s *Store) dropRoster(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dropTimeout)
	defer cancel()
	var dels []types.WriteRequest
	p := dynamodb.NewQueryPaginator(s.api, &dynamodb.QueryInput{
		TableName:                 aws.String(s.tables.Members),
		KeyConditionExpression:    aws.String("rosterKey = :k"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": sAttr(key)},
		ProjectionExpression:      aws.String("rosterKey, personKey"),
		ConsistentRead:            aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			break // delete what was found
		}
		for _, item := range page.Items {
			dels = append(dels, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: item}})
		}
	}
	_ = s.batchWrite(ctx, s.tables.Members, dels)
}

// Members implements group.Store with a Query on the roster key of the
// version. Only the current version has items that count, so any other
// version is ErrConflict: the roster changed since the group was read, and
// an empty list would pass for an empty roster.
func (s *Store) Members(ctx context.Context, groupID string, version int) ([]group.Member, error) {
	g, err := s.groupItem(ctx, groupID)
	if err != nil {
		return nil, err
	}
	if g.RosterVersion != version {
		return nil, fmt.Errorf("members of %s at version %d (now %d): %w", groupID, version, g.RosterVersion, group.ErrConflict)
	}
	members, err := s.queryMembers(ctx, g.RosterKey)
	if err != nil {
		return nil, err
	}
	// A replacement that flipped the group during the Query deletes the
	// items being read: what was read may be part of a roster.
	if after, err := s.groupItem(ctx, groupID); err != nil {
		return nil, err
	} else if after.RosterKey != g.RosterKey {
		return nil, fmt.Errorf("members of %s: replaced while read: %w", groupID, group.ErrConflict)
	}
	return members, nil
}

func (s *Store) queryMembers(ctx context.Context, key string) ([]group.Member, error) {
	var out []group.Member
	p := dynamodb.NewQueryPaginator(s.api, &dynamodb.QueryInput{
		TableName:                 aws.String(s.tables.Members),
		KeyConditionExpression:    aws.String("rosterKey = :k"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": sAttr(key)},
		ConsistentRead:            aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query roster %s: %w", key, err)
		}
		for _, item := range page.Items {
			var m group.Member
			if err := unmarshal(item, &m); err != nil {
				return nil, fmt.Errorf("decode member of %s: %w", key, err)
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// PutJoinRequest implements group.Store: one item under the group's
// pending key, replaced whole.
func (s *Store) PutJoinRequest(ctx context.Context, m group.Member) error {
	item, err := marshal(memberItem{Member: m, RosterKey: pendingKey(m.GroupID)})
	if err != nil {
		return fmt.Errorf("marshal join request to %s: %w", m.GroupID, err)
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.tables.Members), Item: item})
	if err != nil {
		return fmt.Errorf("put join request to %s: %w", m.GroupID, err)
	}
	return nil
}

// JoinRequests implements group.Store with a Query on the pending key.
func (s *Store) JoinRequests(ctx context.Context, groupID string) ([]group.Member, error) {
	return s.queryMembers(ctx, pendingKey(groupID))
}

// ApproveJoin implements group.Store with one transaction: the group's
// count (conditional on the version), the member, and the deleted request
// (conditional on it being there).
func (s *Store) ApproveJoin(ctx context.Context, groupID, personKey string, version int) (group.Group, error) {
	g, err := s.groupItem(ctx, groupID)
	if err != nil {
		return group.Group{}, err
	}
	if g.RosterVersion != version {
		return group.Group{}, fmt.Errorf("approve join to %s at version %d (now %d): %w", groupID, version, g.RosterVersion, group.ErrConflict)
	}
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.tables.Members),
		Key:            memberKey(pendingKey(groupID), personKey),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return group.Group{}, fmt.Errorf("get join request to %s: %w", groupID, err)
	}
	if out.Item == nil {
		return group.Group{}, fmt.Errorf("join request to %s: %w", groupID, group.ErrNotFound)
	}
	var req group.Member
	if err := unmarshal(out.Item, &req); err != nil {
		return group.Group{}, fmt.Errorf("decode join request to %s: %w", groupID, err)
	}
	m := req
	m.GroupID, m.PersonKey, m.Version, m.Status = groupID, personKey, version, group.Active
	item, err := marshal(memberItem{Member: m, RosterKey: g.RosterKey})
	if err != nil {
		return group.Group{}, fmt.Errorf("marshal member of %s: %w", groupID, err)
	}
	sameRoster := map[string]types.AttributeValue{
		":v":   &types.AttributeValueMemberN{Value: fmt.Sprint(version)},
		":key": sAttr(g.RosterKey),
	}
	const sameRosterCond = "rosterVersion = :v AND (rosterKey = :key OR attribute_not_exists(rosterKey))"
	deleteRequest := &types.Delete{
		TableName:           aws.String(s.tables.Members),
		Key:                 memberKey(pendingKey(groupID), personKey),
		ConditionExpression: aws.String("attribute_exists(personKey)"),
	}
	count := map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}}
	maps.Copy(count, sameRoster)
	err = s.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName:                 aws.String(s.tables.Groups),
			Key:                       groupKey(groupID),
			UpdateExpression:          aws.String("SET members = members + :one"),
			ConditionExpression:       aws.String(sameRosterCond),
			ExpressionAttributeValues: count,
		}},
		{Put: &types.Put{
			TableName:           aws.String(s.tables.Members),
			Item:                item,
			ConditionExpression: aws.String("attribute_not_exists(personKey)"),
		}},
		{Delete: deleteRequest},
	}})
	if cancelReason(err, 1) == "ConditionalCheckFailed" && cancelReason(err, 0) == "" && cancelReason(err, 2) == "" {
		// The person is on the roster already: the request goes and the
		// count stays.
		err = s.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{ConditionCheck: &types.ConditionCheck{
				TableName:                 aws.String(s.tables.Groups),
				Key:                       groupKey(groupID),
				ConditionExpression:       aws.String(sameRosterCond),
				ExpressionAttributeValues: sameRoster,
			}},
			{Put: &types.Put{TableName: aws.String(s.tables.Members), Item: item}},
			{Delete: deleteRequest},
		}})
	}
	switch {
	case cancelReason(err, 0) == "ConditionalCheckFailed":
		return group.Group{}, fmt.Errorf("approve join to %s at version %d: %w", groupID, version, group.ErrConflict)
	case cancelReason(err, 2) == "ConditionalCheckFailed":
		return group.Group{}, fmt.Errorf("join request to %s: %w", groupID, group.ErrNotFound)
	case err != nil:
		return group.Group{}, fmt.Errorf("approve join to %s: %w", groupID, err)
	}
	return s.GetGroup(ctx, groupID)
}

// GroupsOf implements group.Store: the person's roster items from the
// person index, then their groups, kept where the item is under the
// group's current roster key.
func (s *Store) GroupsOf(ctx context.Context, personKey string) ([]group.Group, error) {
	seen := map[string]bool{}
	var keys []map[string]types.AttributeValue
	p := dynamodb.NewQueryPaginator(s.api, &dynamodb.QueryInput{
		TableName:                 aws.String(s.tables.Members),
		IndexName:                 aws.String(MemberPersonIndex),
		KeyConditionExpression:    aws.String("personKey = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": sAttr(personKey)},
	})
	var rosters []memberItem
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query groups of person: %w", err)
		}
		for _, item := range page.Items {
			var m memberItem
			if err := unmarshal(item, &m); err != nil {
				return nil, fmt.Errorf("decode roster item: %w", err)
			}
			if m.RosterKey == pendingKey(m.GroupID) {
				continue
			}
			rosters = append(rosters, m)
			if !seen[m.GroupID] {
				seen[m.GroupID] = true
				keys = append(keys, groupKey(m.GroupID))
			}
		}
	}
	var mu sync.Mutex
	var out []group.Group
	err := s.batchGet(ctx, s.tables.Groups, keys, func(item map[string]types.AttributeValue) error {
		g, err := decodeGroup(item)
		if err != nil {
			return err
		}
		// A person may have items under several keys of one group while an
		// old roster is being deleted.
		if slices.ContainsFunc(rosters, func(m memberItem) bool { return m.GroupID == g.ID && m.RosterKey == g.RosterKey }) {
			mu.Lock()
			out = append(out, g.Group)
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("groups of person: %w", err)
	}
	slices.SortFunc(out, func(a, b group.Group) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// dailyKey is a daily list's key.
func dailyKey(groupID, date string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"groupId": sAttr(groupID), "date": sAttr(date)}
}

// PutDailyList implements group.DailyStore with one transaction: the list
// if the day has none, and its alerts if their ids are new.
func (s *Store) PutDailyList(ctx context.Context, l group.DailyList, alerts []alert.Alert) (bool, error) {
	if len(alerts) > maxTransactAlerts {
		return false, fmt.Errorf("put daily list %s %s: %d alerts, at most %d", l.GroupID, l.Date, len(alerts), maxTransactAlerts)
	}
	item, err := marshal(l)
	if err != nil {
		return false, fmt.Errorf("marshal daily list %s %s: %w", l.GroupID, l.Date, err)
	}
	items := []types.TransactWriteItem{{Put: &types.Put{
		TableName:           aws.String(s.tables.DailyLists),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(groupId)"),
	}}}
	if items, err = s.alertPuts(items, alerts); err != nil {
		return false, fmt.Errorf("put daily list %s %s: %w", l.GroupID, l.Date, err)
	}
	err = s.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	switch {
	case cancelReason(err, 0) == "ConditionalCheckFailed":
		return false, nil
	case cancelledFor(err, "ConditionalCheckFailed"):
		return false, fmt.Errorf("put daily list %s %s: an alert of the list exists already", l.GroupID, l.Date)
	case err != nil:
		return false, fmt.Errorf("put daily list %s %s: %w", l.GroupID, l.Date, err)
	}
	return true, nil
}

// alertPuts appends the alerts to a transaction, each if its id is new.
func (s *Store) alertPuts(items []types.TransactWriteItem, alerts []alert.Alert) ([]types.TransactWriteItem, error) {
	for _, a := range alerts {
		aitem, err := marshal(a)
		if err != nil {
			return nil, fmt.Errorf("marshal alert %s: %w", a.ID, err)
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName:           aws.String(s.tables.Alerts),
			Item:                aitem,
			ConditionExpression: aws.String("attribute_not_exists(alertId)"),
		}})
	}
	return items, nil
}

// DailyList implements group.DailyStore.
func (s *Store) DailyList(ctx context.Context, groupID, date string) (group.DailyList, error) {
	return getItem[group.DailyList](ctx, s, s.tables.DailyLists, dailyKey(groupID, date), "daily list "+groupID+" "+date, group.ErrNotFound)
}

const planPart = "plan"

// shardPart keys a shard's result by its run, so a late delivery of an
// earlier run of the day never replaces the current run's result.
func shardPart(runID string, shard int) string { return fmt.Sprintf("shard#%s#%05d", runID, shard) }

type planItem struct {
	group.RunPlan
	Part      string `json:"part"`
	ExpiresAt int64  `json:"expiresAt"`
}

type shardItem struct {
	group.ShardResult
	Part      string `json:"part"`
	ExpiresAt int64  `json:"expiresAt"`
}

// PutRunPlan implements group.RunStore: one item, replaced whole.
func (s *Store) PutRunPlan(ctx context.Context, p group.RunPlan) error {
	return s.putRun(ctx, planItem{RunPlan: p, Part: planPart, ExpiresAt: time.Now().Add(RunExpiry).Unix()}, p.Date, planPart)
}

// PutShardResult implements group.RunStore: one item, replaced whole.
func (s *Store) PutShardResult(ctx context.Context, r group.ShardResult) error {
	part := shardPart(r.RunID, r.Shard)
	return s.putRun(ctx, shardItem{ShardResult: r, Part: part, ExpiresAt: time.Now().Add(RunExpiry).Unix()}, r.Date, part)
}

func (s *Store) putRun(ctx context.Context, v any, date, part string) error {
	item, err := marshal(v)
	if err != nil {
		return fmt.Errorf("marshal run %s %s: %w", date, part, err)
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.tables.RefreshRuns), Item: item})
	if err != nil {
		return fmt.Errorf("put run %s %s: %w", date, part, err)
	}
	return nil
}

// Run implements group.RunStore with one Query on the day: the plan sorts
// before the shards, and the shards by number.
func (s *Store) Run(ctx context.Context, date string) (group.RunPlan, []group.ShardResult, error) {
	var plan *group.RunPlan
	var shards []group.ShardResult
	p := dynamodb.NewQueryPaginator(s.api, &dynamodb.QueryInput{
		TableName:                 aws.String(s.tables.RefreshRuns),
		KeyConditionExpression:    aws.String("#d = :d"),
		ExpressionAttributeNames:  map[string]string{"#d": "date"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": sAttr(date)},
		ConsistentRead:            aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return group.RunPlan{}, nil, fmt.Errorf("query run %s: %w", date, err)
		}
		for _, item := range page.Items {
			part, _ := item["part"].(*types.AttributeValueMemberS)
			switch {
			case part != nil && part.Value == planPart:
				var it planItem
				if err := unmarshal(item, &it); err != nil {
					return group.RunPlan{}, nil, fmt.Errorf("decode run plan %s: %w", date, err)
				}
				plan = &it.RunPlan
			case part != nil && strings.HasPrefix(part.Value, "shard#"):
				var it shardItem
				if err := unmarshal(item, &it); err != nil {
					return group.RunPlan{}, nil, fmt.Errorf("decode run %s %s: %w", date, part.Value, err)
				}
				shards = append(shards, it.ShardResult)
			}
		}
	}
	if plan == nil {
		return group.RunPlan{}, nil, fmt.Errorf("run %s: %w", date, group.ErrNotFound)
	}
	shards = slices.DeleteFunc(shards, func(r group.ShardResult) bool { return r.RunID != plan.RunID })
	// The part sorts by number for shards below 100000; sort anyway.
	slices.SortStableFunc(shards, func(a, b group.ShardResult) int { return a.Shard - b.Shard })
	return *plan, shards, nil
}

// GetHealth implements health.Store with BatchGetItem, 100 keys a call
// and several calls at once.
func (s *Store) GetHealth(ctx context.Context, personKeys []string) (map[string]health.Record, error) {
	keys := make([]map[string]types.AttributeValue, 0, len(personKeys))
	seen := make(map[string]bool, len(personKeys))
	for _, k := range personKeys {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, map[string]types.AttributeValue{"personKey": sAttr(k)})
		}
	}
	var mu sync.Mutex
	out := make(map[string]health.Record, len(keys))
	err := s.batchGet(ctx, s.tables.Health, keys, func(item map[string]types.AttributeValue) error {
		var r health.Record
		if err := unmarshal(item, &r); err != nil {
			return fmt.Errorf("decode health record: %w", err)
		}
		mu.Lock()
		out[r.PersonKey] = r
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get health of %d people: %w", len(keys), err)
	}
	return out, nil
}

// WriteHealth implements health.Store. Each write is conditional on the
// stored updatedAt (an RFC 3339 string of the UTC instant, so equality is
// exact): a PutItem when it has no alerts, else a transaction with them.
// The writes run concurrently.
func (s *Store) WriteHealth(ctx context.Context, writes []health.Write) ([]int, error) {
	var mu sync.Mutex
	var conflicts []int
	err := parallel(ctx, len(writes), healthWorkers, func(i int) error {
		applied, err := s.writeHealth(ctx, writes[i])
		if err != nil {
			return fmt.Errorf("write health #%d: %w", i, err)
		}
		if !applied {
			mu.Lock()
			conflicts = append(conflicts, i)
			mu.Unlock()
		}
		return nil
	})
	slices.Sort(conflicts)
	if err != nil {
		return conflicts, fmt.Errorf("write health (%d writes): %w", len(writes), err)
	}
	return conflicts, nil
}

// writeHealth applies one write and says whether its condition held.
func (s *Store) writeHealth(ctx context.Context, w health.Write) (bool, error) {
	if len(w.Alerts) > maxTransactAlerts {
		return false, fmt.Errorf("%d alerts, at most %d", len(w.Alerts), maxTransactAlerts)
	}
	r := w.Record
	r.UpdatedAt = r.UpdatedAt.UTC()
	item, err := marshal(r)
	if err != nil {
		return false, fmt.Errorf("marshal health record: %w", err)
	}
	put := &types.Put{
		TableName:           aws.String(s.tables.Health),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(personKey)"),
	}
	if w.Prev != nil {
		put.ConditionExpression = aws.String("updatedAt = :prev")
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":prev": sAttr(w.Prev.UTC().Format(time.RFC3339Nano))}
	}
	if len(w.Alerts) == 0 {
		_, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                 put.TableName,
			Item:                      put.Item,
			ConditionExpression:       put.ConditionExpression,
			ExpressionAttributeValues: put.ExpressionAttributeValues,
		})
		var failed *types.ConditionalCheckFailedException
		if errors.As(err, &failed) {
			return false, nil
		}
		return err == nil, err
	}
	items, err := s.alertPuts([]types.TransactWriteItem{{Put: put}}, w.Alerts)
	if err != nil {
		return false, err
	}
	err = s.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if cancelledFor(err, "ConditionalCheckFailed") {
		return false, nil
	}
	return err == nil, err
}

// transact runs a transaction, and again after a short wait while it
// loses to another transaction on the same items.
func (s *Store) transact(ctx context.Context, in *dynamodb.TransactWriteItemsInput) error {
	for attempt := 1; ; attempt++ {
		_, err := s.api.TransactWriteItems(ctx, in)
		if err == nil || !isConflict(err) || attempt == maxTransactAttempts {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt*attempt) * 20 * time.Millisecond):
		}
	}
}

// cancelReason is the code for which item i of a cancelled transaction
// failed ("" if it did not, or the transaction was not cancelled).
func cancelReason(err error, i int) string {
	var cancelled *types.TransactionCanceledException
	if !errors.As(err, &cancelled) || i >= len(cancelled.CancellationReasons) {
		return ""
	}
	code := aws.ToString(cancelled.CancellationReasons[i].Code)
	if code == "None" {
		return ""
	}
	return code
}

// batchWrite writes the requests 25 a call, several calls at once,
// retrying what DynamoDB leaves unprocessed with a growing wait.
func (s *Store) batchWrite(ctx context.Context, table string, reqs []types.WriteRequest) error {
	n := (len(reqs) + 24) / 25
	return parallel(ctx, n, batchWorkers, func(b int) error {
		pending := map[string][]types.WriteRequest{table: reqs[b*25 : min(b*25+25, len(reqs))]}
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt > 0 {
				if attempt == maxBatchAttempts {
					return fmt.Errorf("batch write %s: %d items still unprocessed", table, len(pending[table]))
				}
				if err := sleep(ctx, time.Duration(25<<attempt)*time.Millisecond); err != nil {
					return err
				}
			}
			out, err := s.api.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				return fmt.Errorf("batch write %s: %w", table, err)
			}
			pending = out.UnprocessedItems
		}
		return nil
	})
}

// LoadHealth writes records without conditions or alerts, 25 a call: a
// bulk load into an empty table (the benchmark's district), not the feed.
func (s *Store) LoadHealth(ctx context.Context, recs []health.Record) error {
	reqs := make([]types.WriteRequest, 0, len(recs))
	for _, r := range recs {
		r.UpdatedAt = r.UpdatedAt.UTC()
		item, err := marshal(r)
		if err != nil {
			return fmt.Errorf("marshal health of %s: %w", r.PersonKey, err)
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	return s.batchWrite(ctx, s.tables.Health, reqs)
}

// batchGet reads the keys (no duplicates) 100 a call, several calls at
// once, strongly consistent, retrying unprocessed keys with a growing
// wait. It calls found for each item, from several goroutines.
func (s *Store) batchGet(ctx context.Context, table string, keys []map[string]types.AttributeValue, found func(map[string]types.AttributeValue) error) error {
	return s.batchGetProjected(ctx, table, keys, nil, found)
}

// batchGetProjected is batchGet reading only the attributes of proj (all
// of them when proj is nil).
func (s *Store) batchGetProjected(ctx context.Context, table string, keys []map[string]types.AttributeValue, proj *expression.ProjectionBuilder, found func(map[string]types.AttributeValue) error) error {
	var projection *string
	var names map[string]string
	if proj != nil {
		expr, err := expression.NewBuilder().WithProjection(*proj).Build()
		if err != nil {
			return fmt.Errorf("batch get %s: %w", table, err)
		}
		projection, names = expr.Projection(), expr.Names()
	}
	n := (len(keys) + 99) / 100
	return parallel(ctx, n, batchWorkers, func(b int) error {
		pending := map[string]types.KeysAndAttributes{table: {
			Keys:                     keys[b*100 : min(b*100+100, len(keys))],
			ProjectionExpression:     projection,
			ExpressionAttributeNames: names,
			ConsistentRead:           aws.Bool(true),
		}}
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt > 0 {
				if attempt == maxBatchAttempts {
					return fmt.Errorf("batch get %s: %d keys still unprocessed", table, len(pending[table].Keys))
				}
				if err := sleep(ctx, time.Duration(25<<attempt)*time.Millisecond); err != nil {
					return err
				}
			}
			out, err := s.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return fmt.Errorf("batch get %s: %w", table, err)
			}
			for _, item := range out.Responses[table] {
				if err := found(item); err != nil {
					return err
				}
			}
			pending = out.UnprocessedKeys
		}
		return nil
	})
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// parallel calls fn for 0..n-1 on up to workers goroutines and joins the
// errors. It stops starting calls once ctx is done.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	errs := make([]error, n)
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				errs[i] = fn(i)
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if int(done.Load()) < n {
		errs = append(errs, ctx.Err())
	}
	return errors.Join(errs...)
}
