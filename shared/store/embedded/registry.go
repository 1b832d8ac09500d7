package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"

	"gridcode/shared/idcard"
	"gridcode/shared/registry"
)

var (
	// bucketPeople: person key -> encodePerson(Person).
	bucketPeople = []byte("registry_people")
	// bucketImports: import id -> JSON Import.
	bucketImports = []byte("registry_imports")
	// bucketImportErrors: import id \x00 first line (%010d) -> JSON
	// []RowError of the chunk that starts there.
	bucketImportErrors = []byte("registry_import_errors")
)

var (
	_ registry.Store       = (*Store)(nil)
	_ registry.ImportStore = (*Store)(nil)
)

// A person's row leads with what the hot paths read: the content and
// import hashes (PutPeople's skip), the grid (PersonKeys), the community
// and tokens (the search index). Each string is length-prefixed; the
// sealed data is the rest. A JSON row would cost the index build and
// PersonKeys a full decode of 800,000 entries. Rows of version 1, written
// before entries kept their import hash, read with none.
const (
	personRowVersion   = 2
	personRowVersionV1 = 1
)

var errShortPerson = errors.New("registry row too short")

func encodePerson(p registry.Person) []byte {
	n := 1 + timeLen + len(p.Sealed) + 8*10
	for _, f := range []string{p.ContentHash, p.ImportHash, p.GridCode, p.Community, string(p.IDType), p.Town, string(p.ResidentType), p.Status, p.Source} {
		n += len(f)
	}
	for _, tok := range p.Tokens {
		n += len(tok) + 2
	}
	b := make([]byte, 0, n)
	b = append(b, personRowVersion)
	b = appendString(b, p.ContentHash)
	b = appendString(b, p.ImportHash)
	b = appendString(b, p.GridCode)
	b = appendString(b, p.Community)
	b = binary.AppendUvarint(b, uint64(len(p.Tokens)))
	for _, tok := range p.Tokens {
		b = appendString(b, tok)
	}
	for _, f := range []string{string(p.IDType), p.Town, string(p.ResidentType), p.Status, p.Source} {
		b = appendString(b, f)
	}
	b = appendTime(b, p.UpdatedAt)
	return append(b, p.Sealed...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// rowReader reads a row's length-prefixed fields in order. Its fields are
// views into the row: copy what outlives the transaction.
type rowReader struct {
	b   []byte
	err error
}

func (r *rowReader) bytes() []byte {
	if r.err != nil {
		return nil
	}
	n, w := binary.Uvarint(r.b)
	if w <= 0 || uint64(len(r.b)-w) < n {
		r.err = errShortPerson
		return nil
	}
	f := r.b[w : w+int(n)]
	r.b = r.b[w+int(n):]
	return f
}

func (r *rowReader) string() string { return string(r.bytes()) }

func (r *rowReader) count() int {
	if r.err != nil {
		return 0
	}
	n, w := binary.Uvarint(r.b)
	if w <= 0 || n > uint64(len(r.b)) {
		r.err = errShortPerson
		return 0
	}
	r.b = r.b[w:]
	return int(n)
}

// personHead is the leading fields of a row, as views into it.
type personHead struct {
	hash, importHash, grid, community []byte
	tokens                            [][]byte
}

func readPersonHead(v []byte, withTokens bool) (personHead, rowReader, error) {
	if len(v) == 0 || (v[0] != personRowVersion && v[0] != personRowVersionV1) {
		return personHead{}, rowReader{}, fmt.Errorf("registry row version %v: %w", v[:min(len(v), 1)], errShortPerson)
	}
	r := rowReader{b: v[1:]}
	var h personHead
	h.hash = r.bytes()
	if v[0] != personRowVersionV1 {
		h.importHash = r.bytes()
	}
	h.grid, h.community = r.bytes(), r.bytes()
	if !withTokens {
		return h, r, r.err
	}
	n := r.count()
	h.tokens = make([][]byte, 0, n)
	for range n {
		h.tokens = append(h.tokens, r.bytes())
	}
	return h, r, r.err
}

func decodePerson(k, v []byte) (registry.Person, error) {
	h, r, err := readPersonHead(v, true)
	if err != nil {
		return registry.Person{}, err
	}
	p := registry.Person{
		Key: string(k), ContentHash: string(h.hash), ImportHash: string(h.importHash), GridCode: string(h.grid), Community: string(h.community),
	}
	if len(h.tokens) > 0 {
		p.Tokens = make([]string, len(h.tokens))
		for i, tok := range h.tokens {
			p.Tokens[i] = string(tok)
		}
	}
	p.IDType, p.Town, p.ResidentType = idcard.Kind(r.string()), r.string(), registry.ResidentType(r.string())
	p.Status, p.Source = r.string(), r.string()
	if r.err != nil {
		return p, r.err
	}
	if len(r.b) < timeLen {
		return p, errShortPerson
	}
	p.UpdatedAt = readTime(r.b)
	p.Sealed = cloneOrNil(r.b[timeLen:])
	return p, nil
}

// PutPeople implements registry.Store: one transaction per call, keys in
// order (bbolt writes sorted keys to fewer pages), a person left as stored
// as registry.Store says (skip). The search index, once built, follows
// the committed changes.
func (s *Store) PutPeople(ctx context.Context, people []registry.Person) (int, error) {
	if len(people) == 0 {
		return 0, nil
	}
	order := make([]int, len(people))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(people[a].Key, people[b].Key) })

	ix := &s.people
	// Writers take turns, so the index applies commits in their order.
	ix.writeMu.Lock()
	defer ix.writeMu.Unlock()
	maintain := ix.isBuilt()
	var changes []indexChange
	written := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		changes, written = changes[:0], 0
		b := tx.Bucket(bucketPeople)
		for _, i := range order {
			p := people[i]
			if p.Key == "" {
				return errors.New("a person without a key")
			}
			var old personHead
			v := b.Get([]byte(p.Key))
			if v != nil {
				var err error
				if old, _, err = readPersonHead(v, maintain); err != nil {
					return fmt.Errorf("decode person %s: %w", p.Key, err)
				}
			}
			p, write := registry.ToWrite(p, v != nil, string(old.hash), string(old.importHash))
			if !write {
				continue
			}
			if maintain {
				changes = append(changes, newIndexChange(p, old))
			}
			if err := b.Put([]byte(p.Key), encodePerson(p)); err != nil {
				return err
			}
			written++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("put %d people: %w", len(people), err)
	}
	if maintain {
		ix.apply(changes)
	}
	return written, nil
}

// GetPeople implements registry.Store.
func (s *Store) GetPeople(ctx context.Context, keys []string) (map[string]registry.Person, error) {
	out := make(map[string]registry.Person, len(keys))
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPeople)
		for _, k := range keys {
			v := b.Get([]byte(k))
			if v == nil {
				continue
			}
			p, err := decodePerson([]byte(k), v)
			if err != nil {
				return fmt.Errorf("decode person %s: %w", k, err)
			}
			out[k] = p
		}
		return nil
	})
	return out, err
}

// PersonKeys implements registry.Store with one walk of the people,
// reading each row's grid only.
func (s *Store) PersonKeys(ctx context.Context) (map[string]string, error) {
	var out map[string]string
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPeople)
		out = make(map[string]string, b.Stats().KeyN)
		grids := map[string]string{} // a few hundred grids for 800,000 people
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			h, _, err := readPersonHead(v, false)
			if err != nil {
				return fmt.Errorf("decode person %s: %w", k, err)
			}
			g, ok := grids[string(h.grid)]
			if !ok {
				g = string(h.grid)
				grids[g] = g
			}
			out[string(k)] = g
		}
		return nil
	})
	return out, err
}

// Find implements registry.Store from the in-memory index. A limit of 0
// or less is no limit.
func (s *Store) Find(ctx context.Context, tokens []string, communities []string, limit int) (map[string][]string, error) {
	out := make(map[string][]string, len(tokens))
	err := s.readPeopleIndex(func(ix *peopleIndex) {
		var scope map[uint32]bool
		if len(communities) > 0 {
			scope = make(map[uint32]bool, len(communities))
			for _, c := range communities {
				if id, ok := ix.communityIDs[c]; ok {
					scope[id] = true
				}
			}
		}
		for _, tok := range tokens {
			if _, done := out[tok]; done {
				continue
			}
			tokenID, ok := ix.tokenIDs[tok]
			if !ok {
				continue
			}
			var keys []string
			for _, id := range ix.postings[tokenID] {
				if scope != nil && !scope[ix.community[id]] {
					continue
				}
				keys = append(keys, ix.keys[id])
				if len(keys) == limit {
					break
				}
			}
			if keys != nil {
				out[tok] = keys
			}
		}
	})
	return out, err
}

// BuildRegistryIndex builds the search index now rather than on the first
// search, so that a server can pay for it at start-up.
func (s *Store) BuildRegistryIndex(ctx context.Context) error {
	return s.readPeopleIndex(func(*peopleIndex) {})
}

// peopleIndex is the registry's search index, in memory: bbolt writes an
// import's people in seconds but would take minutes with some eight index
// keys each. Person keys and communities are interned to small integers,
// so a posting is four bytes.
type peopleIndex struct {
	// writeMu is held by PutPeople and by the build: changes are applied in
	// commit order, and a build sees no commit that it would then apply
	// twice.
	writeMu sync.Mutex
	mu      sync.RWMutex
	built   bool

	ids          map[string]uint32 // person key -> id
	keys         []string          // id -> person key
	community    []uint32          // id -> community id
	communityIDs map[string]uint32
	tokenIDs     map[string]uint32 // token -> token id
	postings     [][]uint32        // token id -> person ids
}

// indexChange is one person's written entry against the one it replaced.
type indexChange struct {
	key, community string
	added, dropped []string
}

func newIndexChange(p registry.Person, old personHead) indexChange {
	c := indexChange{key: p.Key, community: p.Community}
	had := make(map[string]bool, len(old.tokens))
	for _, tok := range old.tokens {
		had[string(tok)] = true
	}
	has := make(map[string]bool, len(p.Tokens))
	for _, tok := range p.Tokens {
		if has[tok] {
			continue
		}
		has[tok] = true
		if !had[tok] {
			c.added = append(c.added, tok)
		}
	}
	for tok := range had {
		if !has[tok] {
			c.dropped = append(c.dropped, tok)
		}
	}
	return c
}

func (ix *peopleIndex) isBuilt() bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.built
}

func (ix *peopleIndex) reset() {
	ix.ids, ix.keys, ix.community = map[string]uint32{}, nil, nil
	ix.communityIDs, ix.tokenIDs, ix.postings = map[string]uint32{}, map[string]uint32{}, nil
}

// communityID and tokenID intern a name; the lookup of one already known
// copies nothing.
func (ix *peopleIndex) communityID(name []byte) uint32 {
	id, ok := ix.communityIDs[string(name)]
	if !ok {
		id = uint32(len(ix.communityIDs))
		ix.communityIDs[string(name)] = id
	}
	return id
}

func (ix *peopleIndex) tokenID(tok []byte) uint32 {
	id, ok := ix.tokenIDs[string(tok)]
	if !ok {
		id = uint32(len(ix.postings))
		ix.tokenIDs[string(tok)] = id
		ix.postings = append(ix.postings, nil)
	}
	return id
}

// person returns the id of key, interning it.
func (ix *peopleIndex) person(key string) uint32 {
	id, ok := ix.ids[key]
	if !ok {
		id = uint32(len(ix.keys))
		ix.ids[key] = id
		ix.keys = append(ix.keys, key)
		ix.community = append(ix.community, 0)
	}
	return id
}

// apply takes committed changes in. Removals are gathered per token, so a
// posting shared by many changed people is filtered once.
func (ix *peopleIndex) apply(changes []indexChange) {
	if len(changes) == 0 {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	dropped := map[uint32]map[uint32]bool{} // token id -> person ids
	for _, c := range changes {
		id := ix.person(c.key)
		ix.community[id] = ix.communityID([]byte(c.community))
		for _, tok := range c.added {
			t := ix.tokenID([]byte(tok))
			ix.postings[t] = append(ix.postings[t], id)
		}
		for _, tok := range c.dropped {
			t, ok := ix.tokenIDs[tok]
			if !ok {
				continue
			}
			if dropped[t] == nil {
				dropped[t] = map[uint32]bool{}
			}
			dropped[t][id] = true
		}
	}
	for t, ids := range dropped {
		ix.postings[t] = slices.DeleteFunc(ix.postings[t], func(id uint32) bool { return ids[id] })
	}
}

// readPeopleIndex calls fn with the built index, read-locked.
func (s *Store) readPeopleIndex(fn func(ix *peopleIndex)) error {
	ix := &s.people
	ix.mu.RLock()
	if !ix.built {
		ix.mu.RUnlock()
		if err := s.buildPeopleIndex(); err != nil {
			return err
		}
		ix.mu.RLock()
	}
	defer ix.mu.RUnlock()
	fn(ix)
	return nil
}

// buildPeopleIndex reads every person's community and tokens once.
func (s *Store) buildPeopleIndex() error {
	ix := &s.people
	ix.writeMu.Lock()
	defer ix.writeMu.Unlock()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.built {
		return nil
	}
	ix.reset()
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPeople)
		n := b.Stats().KeyN
		ix.ids, ix.keys, ix.community = make(map[string]uint32, n), make([]string, 0, n), make([]uint32, 0, n)
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			h, _, err := readPersonHead(v, true)
			if err != nil {
				return fmt.Errorf("decode person %s: %w", k, err)
			}
			id := ix.person(string(k))
			ix.community[id] = ix.communityID(h.community)
			for i, tok := range h.tokens {
				if slices.ContainsFunc(h.tokens[:i], func(t []byte) bool { return bytes.Equal(t, tok) }) {
					continue // a token twice in one entry is one posting
				}
				t := ix.tokenID(tok)
				ix.postings[t] = append(ix.postings[t], id)
			}
		}
		return nil
	})
	if err != nil {
		ix.reset()
		return fmt.Errorf("build the registry search index: %w", err)
	}
	ix.built = true
	return nil
}

func importErrorsKey(importID string, firstLine int) []byte {
	return key(importID, fmt.Sprintf("%010d", firstLine))
}

// PutImport implements registry.ImportStore: the stored version is read
// and the record written in one transaction.
func (s *Store) PutImport(ctx context.Context, im registry.Import, fromVersion int) error {
	if im.Version != fromVersion+1 {
		return fmt.Errorf("put import %s: version %d after %d", im.ID, im.Version, fromVersion)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketImports)
		// Version 0: no record, or one stored before records had versions
		// (every write since has 1 or more).
		var stored struct {
			Version int `json:"version"`
		}
		if v := b.Get([]byte(im.ID)); v != nil {
			if err := json.Unmarshal(v, &stored); err != nil {
				return fmt.Errorf("decode: %w", err)
			}
		}
		if stored.Version != fromVersion {
			return registry.ErrConflict
		}
		return putJSON(b, []byte(im.ID), im)
	})
	if err != nil {
		return fmt.Errorf("put import %s: %w", im.ID, err)
	}
	return nil
}

// GetImport implements registry.ImportStore.
func (s *Store) GetImport(ctx context.Context, id string) (registry.Import, error) {
	return getJSON[registry.Import](s.db, bucketImports, []byte(id), "import "+id, registry.ErrNotFound)
}

// PutRowErrors implements registry.ImportStore: one row per chunk, so a
// chunk redone replaces its errors (and a clean redo removes them).
func (s *Store) PutRowErrors(ctx context.Context, importID string, firstLine int, errs []registry.RowError) error {
	err := s.db.Batch(func(tx *bolt.Tx) error {
		b, k := tx.Bucket(bucketImportErrors), importErrorsKey(importID, firstLine)
		if len(errs) == 0 {
			return b.Delete(k)
		}
		return putJSON(b, k, errs)
	})
	if err != nil {
		return fmt.Errorf("put row errors of import %s at line %d: %w", importID, firstLine, err)
	}
	return nil
}

// RowErrors implements registry.ImportStore: chunks in key order, which
// the zero-padded first line makes line order.
func (s *Store) RowErrors(ctx context.Context, importID string) ([]registry.RowError, error) {
	var out []registry.RowError
	err := s.db.View(func(tx *bolt.Tx) error {
		return eachPrefixed(tx.Bucket(bucketImportErrors), key(importID, ""), func(k, v []byte) error {
			var errs []registry.RowError
			if err := json.Unmarshal(v, &errs); err != nil {
				return fmt.Errorf("decode row errors %q: %w", k, err)
			}
			out = append(out, errs...)
			return nil
		})
	})
	return out, err
}
