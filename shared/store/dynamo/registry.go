package dynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"gridcode/shared/registry"
)

// The registry's tables:
//
//   - Registry: one item per person, key personKey: registry.Person as
//     stored, its personal data sealed.
//   - RegistryIndex: key token + communityPerson ("<community>#<personKey>"),
//     one item per search token of a person and nothing else, so a search
//     in some communities reads one key range per token and community.
//   - Imports: key importId, TTL expiresAt.
//   - ImportErrors: key importId + firstLine (a number), one item per chunk
//     of the file holding that chunk's refused rows as a list (more items
//     if the list would not fit one), TTL expiresAt.
const (
	// registryScanSegments is how many parallel Scan segments PersonKeys
	// reads the registry in.
	registryScanSegments = 8
	// findWorkers bounds the concurrent Queries of one Find.
	findWorkers = 8
	// RowErrorExpiry is how long an import's refused rows are kept: the
	// port gives PutRowErrors no expiry, and an error file names lines of a
	// file nobody reads after the import's own record is gone.
	RowErrorExpiry = 90 * 24 * time.Hour
	// rowErrorItemBytes bounds the estimated size of one ImportErrors item,
	// well under DynamoDB's 400 KB.
	rowErrorItemBytes = 350 << 10
)

// storedPerson is what PutPeople reads of a stored entry to decide whether
// and how to write it.
type storedPerson struct {
	Key         string   `json:"personKey"`
	ContentHash string   `json:"contentHash"`
	ImportHash  string   `json:"importHash"`
	Tokens      []string `json:"searchTokens"`
	Community   string   `json:"community"`
}

func personKey(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"personKey": sAttr(key)}
}

func communityPerson(community, key string) string { return community + "#" + key }

func indexKey(token, community, key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"token": sAttr(token), "communityPerson": sAttr(communityPerson(community, key))}
}

// PutPeople implements registry.Store. It reads what is stored of the
// people (hashes, tokens, community), skips those registry.ToWrite says
// to leave, then writes the index first (new tokens put, dropped ones
// deleted) and the people last: a person's item, with its new hash, is
// only written once the index agrees with it, so a call that fails midway
// leaves the old hash and the next import of the same rows repairs the
// index. All writes are batched, several batches at a time.
func (s *Store) PutPeople(ctx context.Context, people []registry.Person) (int, error) {
	// The last entry of a person wins, as it would writing them in order.
	latest := make(map[string]registry.Person, len(people))
	keys := make([]map[string]types.AttributeValue, 0, len(people))
	for _, p := range people {
		if p.Key == "" {
			return 0, errors.New("put people: a person without a key")
		}
		if _, ok := latest[p.Key]; !ok {
			keys = append(keys, personKey(p.Key))
		}
		latest[p.Key] = p
	}
	var mu sync.Mutex
	stored := make(map[string]storedPerson, len(keys))
	proj := expression.NamesList(expression.Name("personKey"), expression.Name("contentHash"), expression.Name("importHash"),
		expression.Name("searchTokens"), expression.Name("community"))
	err := s.batchGetProjected(ctx, s.tables.Registry, keys, &proj, func(item map[string]types.AttributeValue) error {
		var sp storedPerson
		if err := unmarshal(item, &sp); err != nil {
			return fmt.Errorf("decode stored person: %w", err)
		}
		mu.Lock()
		stored[sp.Key] = sp
		mu.Unlock()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("put people: read stored entries: %w", err)
	}

	var index, puts []types.WriteRequest
	for _, k := range keys {
		p := latest[k["personKey"].(*types.AttributeValueMemberS).Value]
		old, ok := stored[p.Key]
		p, write := registry.ToWrite(p, ok, old.ContentHash, old.ImportHash)
		if !write {
			continue
		}
		index = appendIndexChanges(index, old, p)
		item, err := marshal(p)
		if err != nil {
			return 0, fmt.Errorf("put people: marshal a person: %w", err)
		}
		puts = append(puts, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	if err := s.batchWrite(ctx, s.tables.RegistryIndex, index); err != nil {
		return 0, fmt.Errorf("put people: index: %w", err)
	}
	if err := s.batchWrite(ctx, s.tables.Registry, puts); err != nil {
		return 0, fmt.Errorf("put people: %w", err)
	}
	return len(puts), nil
}

// appendIndexChanges appends the index writes that take a person from old
// (zero if new) to p: an item for each token p has and old had not under
// the same community, a deletion for each the old entry had and p has not.
func appendIndexChanges(reqs []types.WriteRequest, old storedPerson, p registry.Person) []types.WriteRequest {
	had := map[string]bool{}
	if old.Key != "" {
		for _, tok := range old.Tokens {
			had[tok] = true
		}
	}
	has := map[string]bool{}
	for _, tok := range p.Tokens {
		if has[tok] {
			continue // one item per token, or BatchWriteItem refuses the call
		}
		has[tok] = true
		if had[tok] && old.Community == p.Community {
			continue
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: indexKey(tok, p.Community, p.Key)}})
	}
	for tok := range had {
		if has[tok] && old.Community == p.Community {
			continue
		}
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: indexKey(tok, old.Community, p.Key)}})
	}
	return reqs
}

// GetPeople implements registry.Store with BatchGetItem.
func (s *Store) GetPeople(ctx context.Context, personKeys []string) (map[string]registry.Person, error) {
	keys := make([]map[string]types.AttributeValue, 0, len(personKeys))
	seen := make(map[string]bool, len(personKeys))
	for _, k := range personKeys {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, personKey(k))
		}
	}
	var mu sync.Mutex
	out := make(map[string]registry.Person, len(keys))
	err := s.batchGet(ctx, s.tables.Registry, keys, func(item map[string]types.AttributeValue) error {
		var p registry.Person
		if err := unmarshal(item, &p); err != nil {
			return fmt.Errorf("decode person: %w", err)
		}
		mu.Lock()
		out[p.Key] = p
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get %d people: %w", len(keys), err)
	}
	return out, nil
}

// Find implements registry.Store: one Query per token and community (a
// key range of the token's partition), several at once. Keys come in the
// order of the communities given, then by key; without communities, by
// community and key. A limit of 0 or less means no limit.
func (s *Store) Find(ctx context.Context, tokens []string, communities []string, limit int) (map[string][]string, error) {
	scopes := communities
	if len(scopes) == 0 {
		scopes = []string{""} // the whole token
	}
	type query struct{ token, community string }
	var queries []query
	seenToken := map[string]bool{}
	for _, tok := range tokens {
		if seenToken[tok] {
			continue
		}
		seenToken[tok] = true
		seenCommunity := map[string]bool{}
		for _, c := range scopes {
			if !seenCommunity[c] {
				seenCommunity[c] = true
				queries = append(queries, query{tok, c})
			}
		}
	}
	found := make([][]string, len(queries))
	err := parallel(ctx, len(queries), findWorkers, func(i int) error {
		keys, err := s.findToken(ctx, queries[i].token, queries[i].community, len(communities) > 0, limit)
		found[i] = keys
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find %d tokens: %w", len(seenToken), err)
	}
	out := make(map[string][]string)
	for i, q := range queries {
		keys := out[q.token]
		if limit > 0 {
			keys = append(keys, found[i][:min(len(found[i]), limit-len(keys))]...)
		} else {
			keys = append(keys, found[i]...)
		}
		if len(keys) > 0 {
			out[q.token] = keys
		}
	}
	return out, nil
}

// findToken reads the keys indexed under token, in one community if
// scoped, at most limit (all if limit <= 0).
func (s *Store) findToken(ctx context.Context, token, community string, scoped bool, limit int) ([]string, error) {
	key := expression.Key("token").Equal(expression.Value(token))
	if scoped {
		key = key.And(expression.Key("communityPerson").BeginsWith(community + "#"))
	}
	expr, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return nil, err
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.tables.RegistryIndex),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ConsistentRead:            aws.Bool(true),
	}
	if limit > 0 {
		in.Limit = aws.Int32(int32(min(limit, 1000)))
	}
	var keys []string
	p := dynamodb.NewQueryPaginator(s.api, in)
	for p.HasMorePages() && (limit <= 0 || len(keys) < limit) {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query the index: %w", err)
		}
		for _, item := range page.Items {
			cp, ok := item["communityPerson"].(*types.AttributeValueMemberS)
			if !ok {
				return nil, errors.New("query the index: an item without communityPerson")
			}
			// Person keys are keyed hashes without '#'; communities may
			// hold anything.
			keys = append(keys, cp.Value[strings.LastIndexByte(cp.Value, '#')+1:])
			if limit > 0 && len(keys) == limit {
				break
			}
		}
	}
	return keys, nil
}

// PersonKeys implements registry.Store with a parallel Scan of the keys
// and grids: it reads the whole registry (800,000 small projections), once
// per reconciliation against it.
func (s *Store) PersonKeys(ctx context.Context) (map[string]string, error) {
	var mu sync.Mutex
	out := make(map[string]string)
	err := parallel(ctx, registryScanSegments, registryScanSegments, func(segment int) error {
		p := dynamodb.NewScanPaginator(s.api, &dynamodb.ScanInput{
			TableName:                aws.String(s.tables.Registry),
			ProjectionExpression:     aws.String("#k, #g"),
			ExpressionAttributeNames: map[string]string{"#k": "personKey", "#g": "gridCode"},
			Segment:                  aws.Int32(int32(segment)),
			TotalSegments:            aws.Int32(registryScanSegments),
			ConsistentRead:           aws.Bool(true),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("segment %d: %w", segment, err)
			}
			mu.Lock()
			for _, item := range page.Items {
				k, ok := item["personKey"].(*types.AttributeValueMemberS)
				if !ok {
					mu.Unlock()
					return fmt.Errorf("segment %d: an item without personKey", segment)
				}
				g, _ := item["gridCode"].(*types.AttributeValueMemberS)
				if g != nil {
					out[k.Value] = g.Value
				} else {
					out[k.Value] = ""
				}
			}
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan person keys: %w", err)
	}
	return out, nil
}

// PutImport implements registry.ImportStore: one item, replaced whole on
// the condition that its version is the one the writer read. A record
// stored before records had versions has no version attribute: version 0.
func (s *Store) PutImport(ctx context.Context, im registry.Import, fromVersion int) error {
	if im.Version != fromVersion+1 {
		return fmt.Errorf("put import %s: version %d after %d", im.ID, im.Version, fromVersion)
	}
	item, err := marshal(im)
	if err != nil {
		return fmt.Errorf("marshal import %s: %w", im.ID, err)
	}
	cond := expression.Name("version").Equal(expression.Value(fromVersion))
	if fromVersion == 0 {
		cond = expression.AttributeNotExists(expression.Name("version")).Or(cond)
	}
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("put import %s: %w", im.ID, err)
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.tables.Imports), Item: item,
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return fmt.Errorf("put import %s at version %d: %w", im.ID, fromVersion, registry.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("put import %s: %w", im.ID, err)
	}
	return nil
}

// GetImport implements registry.ImportStore with a strongly consistent
// read: a resumed import reads the checkpoint its last run wrote.
func (s *Store) GetImport(ctx context.Context, id string) (registry.Import, error) {
	return getItem[registry.Import](ctx, s, s.tables.Imports, map[string]types.AttributeValue{"importId": sAttr(id)}, "import "+id, registry.ErrNotFound)
}

// rowErrorsItem is one ImportErrors item: part Part of the refused rows of
// the chunk that starts at Chunk. Part i is keyed Chunk+i: a chunk's rows
// span at least as many lines as its errors need items (an item holds
// thousands), so the keys never reach the next chunk's.
type rowErrorsItem struct {
	ImportID  string              `json:"importId"`
	FirstLine int                 `json:"firstLine"`
	Chunk     int                 `json:"chunk"`
	Parts     int                 `json:"parts"`
	Errors    []registry.RowError `json:"errors"`
	ExpiresAt int64               `json:"expiresAt"`
}

func rowErrorsKey(importID string, line int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"importId":  sAttr(importID),
		"firstLine": &types.AttributeValueMemberN{Value: strconv.Itoa(line)},
	}
}

// PutRowErrors implements registry.ImportStore. The chunk's errors go in
// as few items as fit, keyed from firstLine on; the items of an earlier
// run of the chunk beyond the new ones are deleted, so a redone chunk
// replaces its errors (and a chunk now without errors has none).
func (s *Store) PutRowErrors(ctx context.Context, importID string, firstLine int, errs []registry.RowError) error {
	parts := splitRowErrors(errs)
	maxLine := firstLine
	for _, e := range errs {
		maxLine = max(maxLine, e.Line)
	}
	if firstLine+len(parts)-1 > maxLine {
		return fmt.Errorf("put row errors of %s at line %d: %d errors need %d items, more than the chunk's lines", importID, firstLine, len(errs), len(parts))
	}
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(s.tables.ImportErrors),
		Key:                      rowErrorsKey(importID, firstLine),
		ProjectionExpression:     aws.String("#p"),
		ExpressionAttributeNames: map[string]string{"#p": "parts"},
		ConsistentRead:           aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("put row errors of %s at line %d: read earlier ones: %w", importID, firstLine, err)
	}
	var before struct {
		Parts int `json:"parts"`
	}
	if out.Item != nil {
		if err := unmarshal(out.Item, &before); err != nil {
			return fmt.Errorf("put row errors of %s at line %d: decode earlier ones: %w", importID, firstLine, err)
		}
	}
	expires := time.Now().Add(RowErrorExpiry).Unix()
	var reqs []types.WriteRequest
	for i, part := range parts {
		item, err := marshal(rowErrorsItem{
			ImportID: importID, FirstLine: firstLine + i, Chunk: firstLine, Parts: len(parts), Errors: part, ExpiresAt: expires,
		})
		if err != nil {
			return fmt.Errorf("put row errors of %s at line %d: marshal: %w", importID, firstLine, err)
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	for i := len(parts); i < before.Parts; i++ {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: rowErrorsKey(importID, firstLine+i)}})
	}
	if err := s.batchWrite(ctx, s.tables.ImportErrors, reqs); err != nil {
		return fmt.Errorf("put row errors of %s at line %d: %w", importID, firstLine, err)
	}
	return nil
}

// splitRowErrors cuts errs into parts that each fit one item.
func splitRowErrors(errs []registry.RowError) [][]registry.RowError {
	var parts [][]registry.RowError
	start, size := 0, 0
	for i, e := range errs {
		// DynamoDB's size of the map in the list, at most: the attribute
		// names, a number (21 bytes at most), two strings, and the list's
		// and the map's overhead.
		n := len("line") + len("field") + len("reason") + 21 + len(e.Field) + len(e.Reason) + 7
		if size+n > rowErrorItemBytes && i > start {
			parts = append(parts, errs[start:i])
			start, size = i, 0
		}
		size += n
	}
	if start < len(errs) {
		parts = append(parts, errs[start:])
	}
	return parts
}

// RowErrors implements registry.ImportStore with one Query of the import's
// items, in line order.
func (s *Store) RowErrors(ctx context.Context, importID string) ([]registry.RowError, error) {
	items, err := queryAll[rowErrorsItem](ctx, s, &dynamodb.QueryInput{
		TableName:                 aws.String(s.tables.ImportErrors),
		KeyConditionExpression:    aws.String("importId = :id"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": sAttr(importID)},
		ConsistentRead:            aws.Bool(true),
	}, "row errors of "+importID)
	if err != nil {
		return nil, err
	}
	var out []registry.RowError
	for _, it := range items {
		out = append(out, it.Errors...)
	}
	// Items come by chunk; a chunk's caller may have listed its errors by
	// column rather than by line.
	slices.SortStableFunc(out, func(a, b registry.RowError) int { return a.Line - b.Line })
	return out, nil
}
