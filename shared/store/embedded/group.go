package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"gridcode/shared/alert"
	"gridcode/shared/group"
	"gridcode/shared/health"
	"gridcode/shared/idcard"
)

var (
	// bucketGroups: group id -> JSON Group.
	bucketGroups = []byte("groups")
	// bucketGroupsByGrid: grid code \x00 group id -> nothing.
	bucketGroupsByGrid = []byte("groups_by_grid")
	// bucketMembers: group id \x00 version (%08d) \x00 person key ->
	// encodeMember(Member).
	bucketMembers = []byte("members")
	// bucketMembersByPerson: person key \x00 group id -> version (decimal):
	// the person's membership of the group's current roster.
	bucketMembersByPerson = []byte("members_by_person")
	// bucketJoinRequests: group id \x00 person key -> JSON Member.
	bucketJoinRequests = []byte("join_requests")
	// bucketDailyLists: group id \x00 date -> JSON DailyList.
	bucketDailyLists = []byte("daily_lists")
	// bucketRunPlans: date -> JSON RunPlan.
	bucketRunPlans = []byte("run_plans")
	// bucketRunShards: date \x00 shard (%08d) -> JSON ShardResult.
	bucketRunShards = []byte("run_shards")
	// bucketHealth: person key -> encodeHealth(Record).
	bucketHealth = []byte("health")
)

// groupBuckets are created by Open.
var groupBuckets = [][]byte{
	bucketGroups, bucketGroupsByGrid, bucketMembers, bucketMembersByPerson, bucketJoinRequests,
	bucketDailyLists, bucketRunPlans, bucketRunShards, bucketHealth,
}

var (
	_ group.Store      = (*Store)(nil)
	_ group.DailyStore = (*Store)(nil)
	_ group.RunStore   = (*Store)(nil)
	_ health.Store     = (*Store)(nil)
)

func key(parts ...string) []byte {
	n := len(parts) - 1
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			k = append(k, 0)
		}
		k = append(k, p...)
	}
	return k
}

func versionKey(v int) string { return fmt.Sprintf("%08d", v) }

// memberPrefix is the prefix of one roster version's member keys.
func memberPrefix(groupID string, version int) []byte {
	return append(key(groupID, versionKey(version)), 0)
}

// eachPrefixed calls fn for every key of b that starts with prefix, in
// key order, with a seek rather than a walk of the bucket.
func eachPrefixed(b *bolt.Bucket, prefix []byte, fn func(k, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

func getGroup(tx *bolt.Tx, id string) (group.Group, error) {
	var g group.Group
	v := tx.Bucket(bucketGroups).Get([]byte(id))
	if v == nil {
		return g, fmt.Errorf("group %s: %w", id, group.ErrNotFound)
	}
	if err := json.Unmarshal(v, &g); err != nil {
		return g, fmt.Errorf("decode group %s: %w", id, err)
	}
	return g, nil
}

// getJSON reads one JSON value in its own read transaction; a missing key
// is notFound, wrapped with what it is.
func getJSON[T any](db *bolt.DB, bucket, k []byte, what string, notFound error) (T, error) {
	var v T
	err := db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucket).Get(k)
		if raw == nil {
			return fmt.Errorf("%s: %w", what, notFound)
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("decode %s: %w", what, err)
		}
		return nil
	})
	return v, err
}

func putJSON(b *bolt.Bucket, k []byte, x any) error {
	v, err := json.Marshal(x)
	if err != nil {
		return err
	}
	return b.Put(k, v)
}

// A time is stored as unix seconds and nanoseconds, big-endian; it reads
// back in UTC.
const timeLen = 12

func appendTime(b []byte, t time.Time) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(t.Unix()))
	return binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
}

func readTime(b []byte) time.Time {
	return time.Unix(int64(binary.BigEndian.Uint64(b)), int64(binary.BigEndian.Uint32(b[8:]))).UTC()
}

// A member row holds what its key does not: the joining time, status and
// id type (each length-prefixed) and the sealed personal data. The refresh
// reads one row per member, so it is not worth a JSON decode.
func encodeMember(m group.Member) []byte {
	b := make([]byte, 0, timeLen+2+len(m.Status)+len(m.IDType)+len(m.Sealed)+2)
	b = appendTime(b, m.JoinedAt)
	b = binary.AppendUvarint(b, uint64(len(m.Status)))
	b = append(b, m.Status...)
	b = binary.AppendUvarint(b, uint64(len(m.IDType)))
	b = append(b, m.IDType...)
	return append(b, m.Sealed...)
}

// cloneOrNil copies bytes out of a transaction; none read back as nil.
func cloneOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}

var errShortMember = errors.New("member row too short")

// decodeMember reads a member row of groupID's roster version; rest is
// the person key.
func decodeMember(groupID string, version int, personKey, v []byte) (group.Member, error) {
	m := group.Member{GroupID: groupID, Version: version, PersonKey: string(personKey)}
	if len(v) < timeLen {
		return m, errShortMember
	}
	m.JoinedAt = readTime(v)
	v = v[timeLen:]
	field := func() (string, error) {
		n, w := binary.Uvarint(v)
		if w <= 0 || uint64(len(v)-w) < n {
			return "", errShortMember
		}
		f := string(v[w : w+int(n)])
		v = v[w+int(n):]
		return f, nil
	}
	status, err := field()
	if err != nil {
		return m, err
	}
	idType, err := field()
	if err != nil {
		return m, err
	}
	m.Status, m.IDType, m.Sealed = group.MemberStatus(status), idcard.Kind(idType), cloneOrNil(v)
	return m, nil
}

// CreateGroup implements group.Store.
func (s *Store) CreateGroup(ctx context.Context, g group.Group) (group.Group, bool, error) {
	v, err := json.Marshal(g)
	if err != nil {
		return group.Group{}, false, err
	}
	var stored group.Group
	var created bool
	// Batch may run the function more than once; it sets both results every time.
	err = s.db.Batch(func(tx *bolt.Tx) error {
		groups := tx.Bucket(bucketGroups)
		if existing := groups.Get([]byte(g.ID)); existing != nil {
			stored, created = group.Group{}, false
			return json.Unmarshal(existing, &stored)
		}
		if err := groups.Put([]byte(g.ID), v); err != nil {
			return err
		}
		if err := tx.Bucket(bucketGroupsByGrid).Put(key(g.GridCode, g.ID), nil); err != nil {
			return err
		}
		stored, created = g, true
		return nil
	})
	if err != nil {
		return group.Group{}, false, fmt.Errorf("create group %s: %w", g.ID, err)
	}
	return stored, created, nil
}

// GetGroup implements group.Store.
func (s *Store) GetGroup(ctx context.Context, id string) (group.Group, error) {
	var g group.Group
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		g, err = getGroup(tx, id)
		return err
	})
	return g, err
}

// GroupIDs implements group.Store: the keys of the groups bucket, which
// bbolt keeps sorted.
func (s *Store) GroupIDs(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketGroups).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			ids = append(ids, string(k))
		}
		return nil
	})
	return ids, err
}

// GridGroups implements group.Store with a seek in the grid index.
func (s *Store) GridGroups(ctx context.Context, gridCode string) ([]group.Group, error) {
	var out []group.Group
	prefix := key(gridCode, "")
	err := s.db.View(func(tx *bolt.Tx) error {
		return eachPrefixed(tx.Bucket(bucketGroupsByGrid), prefix, func(k, _ []byte) error {
			g, err := getGroup(tx, string(k[len(prefix):]))
			if err != nil {
				return err
			}
			out = append(out, g)
			return nil
		})
	})
	return out, err
}

// ReplaceRoster implements group.Store in one transaction: the old
// version's members and their person-index entries go, the new ones come.
func (s *Store) ReplaceRoster(ctx context.Context, groupID string, fromVersion int, members []group.Member) (group.Group, error) {
	var g group.Group
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if g, err = getGroup(tx, groupID); err != nil {
			return err
		}
		if g.RosterVersion != fromVersion {
			return fmt.Errorf("replace roster of %s from version %d, now %d: %w", groupID, fromVersion, g.RosterVersion, group.ErrConflict)
		}
		mb, byPerson := tx.Bucket(bucketMembers), tx.Bucket(bucketMembersByPerson)
		// Keys are collected first: deleting under a moving cursor can skip keys.
		oldPrefix := memberPrefix(groupID, fromVersion)
		var old [][]byte
		if err := eachPrefixed(mb, oldPrefix, func(k, _ []byte) error {
			old = append(old, bytes.Clone(k))
			return nil
		}); err != nil {
			return err
		}
		for _, k := range old {
			if err := mb.Delete(k); err != nil {
				return err
			}
			if err := byPerson.Delete(key(string(k[len(oldPrefix):]), groupID)); err != nil {
				return err
			}
		}
		version := fromVersion + 1
		prefix, ver := memberPrefix(groupID, version), []byte(strconv.Itoa(version))
		n := 0
		for _, m := range members {
			m.GroupID, m.Version = groupID, version
			k := append(bytes.Clone(prefix), m.PersonKey...)
			if mb.Get(k) == nil {
				n++ // a person listed twice is one member
			}
			if err := mb.Put(k, encodeMember(m)); err != nil {
				return err
			}
			if err := byPerson.Put(key(m.PersonKey, groupID), ver); err != nil {
				return err
			}
		}
		g.RosterVersion, g.Members = version, n
		return putJSON(tx.Bucket(bucketGroups), []byte(groupID), g)
	})
	if err != nil {
		return group.Group{}, err
	}
	return g, nil
}

// Members implements group.Store with a seek to the version's prefix:
// person keys sort within it.
func (s *Store) Members(ctx context.Context, groupID string, version int) ([]group.Member, error) {
	var out []group.Member
	err := s.db.View(func(tx *bolt.Tx) error {
		g, err := getGroup(tx, groupID)
		if err != nil {
			return err
		}
		if g.RosterVersion != version {
			return fmt.Errorf("members of %s version %d: %w", groupID, version, group.ErrConflict)
		}
		prefix := memberPrefix(groupID, version)
		return eachPrefixed(tx.Bucket(bucketMembers), prefix, func(k, v []byte) error {
			m, err := decodeMember(groupID, version, k[len(prefix):], v)
			if err != nil {
				return fmt.Errorf("decode member %q: %w", k, err)
			}
			out = append(out, m)
			return nil
		})
	})
	return out, err
}

// PutJoinRequest implements group.Store.
func (s *Store) PutJoinRequest(ctx context.Context, m group.Member) error {
	v, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return s.db.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketJoinRequests).Put(key(m.GroupID, m.PersonKey), v)
	})
}

// JoinRequests implements group.Store, sorted by person key.
func (s *Store) JoinRequests(ctx context.Context, groupID string) ([]group.Member, error) {
	var out []group.Member
	err := s.db.View(func(tx *bolt.Tx) error {
		return eachPrefixed(tx.Bucket(bucketJoinRequests), key(groupID, ""), func(k, v []byte) error {
			var m group.Member
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("decode join request %q: %w", k, err)
			}
			out = append(out, m)
			return nil
		})
	})
	return out, err
}

// ApproveJoin implements group.Store in one transaction. Approving a
// person who is already on the roster replaces their entry and does not
// count them twice.
func (s *Store) ApproveJoin(ctx context.Context, groupID, personKey string, version int) (group.Group, error) {
	var g group.Group
	err := s.db.Update(func(tx *bolt.Tx) error {
		requests := tx.Bucket(bucketJoinRequests)
		rk := key(groupID, personKey)
		v := requests.Get(rk)
		if v == nil {
			return fmt.Errorf("join request of %s to %s: %w", personKey, groupID, group.ErrNotFound)
		}
		var m group.Member
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("decode join request %q: %w", rk, err)
		}
		var err error
		if g, err = getGroup(tx, groupID); err != nil {
			return err
		}
		if g.RosterVersion != version {
			return fmt.Errorf("approve onto version %d of %s, now %d: %w", version, groupID, g.RosterVersion, group.ErrConflict)
		}
		m.GroupID, m.PersonKey, m.Version, m.Status = groupID, personKey, version, group.Active
		mb := tx.Bucket(bucketMembers)
		mk := append(memberPrefix(groupID, version), personKey...)
		if mb.Get(mk) == nil {
			g.Members++
		}
		if err := mb.Put(mk, encodeMember(m)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMembersByPerson).Put(key(personKey, groupID), []byte(strconv.Itoa(version))); err != nil {
			return err
		}
		if err := requests.Delete(rk); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketGroups), []byte(groupID), g)
	})
	if err != nil {
		return group.Group{}, err
	}
	return g, nil
}

// GroupsOf implements group.Store with a seek in the person index, sorted
// by group id.
func (s *Store) GroupsOf(ctx context.Context, personKey string) ([]group.Group, error) {
	var out []group.Group
	prefix := key(personKey, "")
	err := s.db.View(func(tx *bolt.Tx) error {
		return eachPrefixed(tx.Bucket(bucketMembersByPerson), prefix, func(k, v []byte) error {
			g, err := getGroup(tx, string(k[len(prefix):]))
			if errors.Is(err, group.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			// The index is kept in step with the rosters; the check only
			// guards against an entry of an older version.
			if version, err := strconv.Atoi(string(v)); err == nil && version == g.RosterVersion {
				out = append(out, g)
			}
			return nil
		})
	})
	return out, err
}

// putNewAlerts stores the alerts whose id is new, each with its due-index
// entry, as Create does.
func putNewAlerts(tx *bolt.Tx, alerts []alert.Alert) error {
	b, due := tx.Bucket(bucketAlerts), tx.Bucket(bucketAlertsDue)
	for _, a := range alerts {
		if b.Get([]byte(a.ID)) != nil {
			continue
		}
		if err := putJSON(b, []byte(a.ID), a); err != nil {
			return err
		}
		if err := due.Put(dueKey(a), nil); err != nil {
			return err
		}
	}
	return nil
}

// PutDailyList implements group.DailyStore. An alert whose id exists is
// left as it is: it may be on its way already.
func (s *Store) PutDailyList(ctx context.Context, l group.DailyList, alerts []alert.Alert) (bool, error) {
	v, err := json.Marshal(l)
	if err != nil {
		return false, err
	}
	var created bool
	err = s.db.Batch(func(tx *bolt.Tx) error {
		lists := tx.Bucket(bucketDailyLists)
		k := key(l.GroupID, l.Date)
		if created = lists.Get(k) == nil; !created {
			return nil
		}
		if err := lists.Put(k, v); err != nil {
			return err
		}
		return putNewAlerts(tx, alerts)
	})
	if err != nil {
		return false, fmt.Errorf("put daily list %s %s: %w", l.GroupID, l.Date, err)
	}
	return created, nil
}

// DailyList implements group.DailyStore.
func (s *Store) DailyList(ctx context.Context, groupID, date string) (group.DailyList, error) {
	var l group.DailyList
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketDailyLists).Get(key(groupID, date))
		if v == nil {
			return fmt.Errorf("daily list %s %s: %w", groupID, date, group.ErrNotFound)
		}
		return json.Unmarshal(v, &l)
	})
	return l, err
}

// PutRunPlan implements group.RunStore.
func (s *Store) PutRunPlan(ctx context.Context, p group.RunPlan) error {
	return s.db.Batch(func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bucketRunPlans), []byte(p.Date), p)
	})
}

// PutShardResult implements group.RunStore.
func (s *Store) PutShardResult(ctx context.Context, r group.ShardResult) error {
	return s.db.Batch(func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bucketRunShards), key(r.Date, r.RunID, versionKey(r.Shard)), r)
	})
}

// Run implements group.RunStore.
func (s *Store) Run(ctx context.Context, date string) (group.RunPlan, []group.ShardResult, error) {
	var p group.RunPlan
	var results []group.ShardResult
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRunPlans).Get([]byte(date))
		if v == nil {
			return fmt.Errorf("run of %s: %w", date, group.ErrNotFound)
		}
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("decode run plan %s: %w", date, err)
		}
		return eachPrefixed(tx.Bucket(bucketRunShards), key(date, p.RunID, ""), func(k, v []byte) error {
			var r group.ShardResult
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode shard result %q: %w", k, err)
			}
			results = append(results, r)
			return nil
		})
	})
	if err != nil {
		return group.RunPlan{}, nil, err
	}
	return p, results, nil
}

// A health record is stored as its UpdatedAt followed by the sealed
// status: the refresh reads one per member, so it is not worth a JSON
// decode.
func encodeHealth(r health.Record) []byte {
	return append(appendTime(make([]byte, 0, timeLen+len(r.Sealed)), r.UpdatedAt), r.Sealed...)
}

func healthUpdatedAt(v []byte) (time.Time, error) {
	if len(v) < timeLen {
		return time.Time{}, errors.New("health record too short")
	}
	return readTime(v), nil
}

func decodeHealth(personKey string, v []byte) (health.Record, error) {
	at, err := healthUpdatedAt(v)
	if err != nil {
		return health.Record{}, fmt.Errorf("decode health record %s: %w", personKey, err)
	}
	return health.Record{PersonKey: personKey, UpdatedAt: at, Sealed: cloneOrNil(v[timeLen:])}, nil
}

// GetHealth implements health.Store with one read transaction.
func (s *Store) GetHealth(ctx context.Context, personKeys []string) (map[string]health.Record, error) {
	out := make(map[string]health.Record, len(personKeys))
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHealth)
		for _, p := range personKeys {
			v := b.Get([]byte(p))
			if v == nil {
				continue
			}
			r, err := decodeHealth(p, v)
			if err != nil {
				return err
			}
			out[p] = r
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// WriteHealth implements health.Store: every write of the call in one
// transaction (one fsync), each applied only if its condition holds and
// its alerts are new. Writes are applied in order, so a later write sees
// an earlier one of the same call.
func (s *Store) WriteHealth(ctx context.Context, writes []health.Write) ([]int, error) {
	var conflicts []int
	// Batch may run the function more than once; it resets the result.
	err := s.db.Batch(func(tx *bolt.Tx) error {
		conflicts = nil
		records, alerts := tx.Bucket(bucketHealth), tx.Bucket(bucketAlerts)
	writes:
		for i, w := range writes {
			k := []byte(w.Record.PersonKey)
			stored := records.Get(k)
			switch {
			case w.Prev == nil && stored != nil, w.Prev != nil && stored == nil:
				conflicts = append(conflicts, i)
				continue
			case w.Prev != nil:
				at, err := healthUpdatedAt(stored)
				if err != nil {
					return fmt.Errorf("decode health record %s: %w", k, err)
				}
				if !at.Equal(*w.Prev) {
					conflicts = append(conflicts, i)
					continue
				}
			}
			for _, a := range w.Alerts {
				if alerts.Get([]byte(a.ID)) != nil {
					conflicts = append(conflicts, i)
					continue writes
				}
			}
			if err := records.Put(k, encodeHealth(w.Record)); err != nil {
				return err
			}
			if err := putNewAlerts(tx, w.Alerts); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("write health: %w", err)
	}
	return conflicts, nil
}
