package group

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"gridcode/shared/health"
	"gridcode/shared/idcard"
	"gridcode/shared/pii"
)

// Reasons a member is flagged on the daily list, worst first.
const (
	ReasonRed         = "code_red"
	ReasonNATPositive = "nat_positive"
	ReasonYellow      = "code_yellow"
	ReasonNATStale    = "nat_stale" // no NAT within the limit, or none at all
	ReasonNoData      = "no_data"   // the feed has nothing on the person
)

var severity = map[string]int{ReasonRed: 0, ReasonNATPositive: 1, ReasonYellow: 2, ReasonNATStale: 3, ReasonNoData: 4}

// DefaultNATLimit is how old a member's last NAT may be before the list
// flags it: three days, the district's rule for people at work.
const DefaultNATLimit = 72 * time.Hour

// ListRow is one member with what the feed knows of them.
type ListRow struct {
	PersonKey string
	IDType    idcard.Kind
	Personal  Personal
	Status    *health.Status // nil: no health data
}

// BuildList makes the daily list at now: abnormal members first (worst
// reason first), then by name.
func BuildList(rows []ListRow, now time.Time, natLimit time.Duration) (Summary, []Entry) {
	s := Summary{Members: len(rows)}
	entries := make([]Entry, len(rows))
	for i, r := range rows {
		e := Entry{PersonKey: r.PersonKey, Name: r.Personal.Name, IDType: r.IDType, IDNumber: idcard.Mask(r.IDType, r.Personal.IDNumber)}
		st := r.Status
		if st == nil {
			e.Reasons = []string{ReasonNoData}
			s.NoData++
		} else {
			doses := st.VaccineDoses
			e.CodeColor, e.VaccineDoses = st.CodeColor, &doses
			switch st.CodeColor {
			case health.Red:
				e.Reasons = append(e.Reasons, ReasonRed)
				s.Red++
			case health.Yellow:
				e.Reasons = append(e.Reasons, ReasonYellow)
				s.Yellow++
			}
			if st.NATAt != nil {
				at := st.NATAt.UTC()
				hours := int(now.Sub(at).Hours())
				e.NATAt, e.HoursSinceNAT, e.NATResult = &at, &hours, st.NATResult
				if st.NATResult == health.Positive {
					e.Reasons = append(e.Reasons, ReasonNATPositive)
					s.NATPositive++
				}
			}
			if st.NATAt == nil || now.Sub(*st.NATAt) > natLimit {
				e.Reasons = append(e.Reasons, ReasonNATStale)
				s.NATStale++
			}
		}
		sort.Slice(e.Reasons, func(a, b int) bool { return severity[e.Reasons[a]] < severity[e.Reasons[b]] })
		e.Abnormal = len(e.Reasons) > 0
		if e.Abnormal {
			s.Abnormal++
		}
		entries[i] = e
	}
	sort.SliceStable(entries, func(a, b int) bool {
		ea, eb := entries[a], entries[b]
		if ea.Abnormal != eb.Abnormal {
			return ea.Abnormal
		}
		if ea.Abnormal && severity[ea.Reasons[0]] != severity[eb.Reasons[0]] {
			return severity[ea.Reasons[0]] < severity[eb.Reasons[0]]
		}
		return ea.Name < eb.Name
	})
	return s, entries
}

func dailyContext(groupID, date string) string { return "daily/" + groupID + "/" + date }

// gzipWriters are reused: a new compressor per group was half of the
// refresh's CPU. BestSpeed still shrinks a list several times over.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

// SealEntries compresses and seals a list's entries: health data stays
// encrypted at rest, and a 2,000-member list fits one stored item.
func SealEntries(v *pii.Vault, groupID, date string, entries []Entry) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&buf)
	if err := json.NewEncoder(zw).Encode(entries); err != nil {
		return nil, fmt.Errorf("encode list %s/%s: %w", groupID, date, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress list %s/%s: %w", groupID, date, err)
	}
	return v.Seal(buf.Bytes(), dailyContext(groupID, date))
}

// OpenEntries reverses SealEntries.
func OpenEntries(v *pii.Vault, l DailyList) ([]Entry, error) {
	plain, err := v.Open(l.Sealed, dailyContext(l.GroupID, l.Date))
	if err != nil {
		return nil, fmt.Errorf("open list %s/%s: %w", l.GroupID, l.Date, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(plain))
	if err != nil {
		return nil, fmt.Errorf("open list %s/%s: %w", l.GroupID, l.Date, err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("open list %s/%s: %w", l.GroupID, l.Date, err)
	}
	var entries []Entry
	if err := json.Unmarshal(body, &entries); err != nil {
		return nil, fmt.Errorf("decode list %s/%s: %w", l.GroupID, l.Date, err)
	}
	return entries, nil
}

func adminContext(groupID string) string { return "group-admin:" + groupID }

// SealAdmin stores the administrator's contact, sealed to the group.
func (g *Group) SealAdmin(v *pii.Vault, a Admin) (err error) {
	g.AdminSealed, err = v.SealJSON(a, adminContext(g.ID))
	return err
}

// OpenAdmin reads a group's administrator.
func OpenAdmin(v *pii.Vault, g Group) (Admin, error) {
	a, err := pii.OpenJSON[Admin](v, g.AdminSealed, adminContext(g.ID))
	if err != nil {
		return Admin{}, fmt.Errorf("admin of group %s: %w", g.ID, err)
	}
	return a, nil
}

func memberContext(groupID, personKey string) string { return "member:" + groupID + "/" + personKey }

// SealPersonal seals a member's personal data to the group and person.
func (m *Member) SealPersonal(v *pii.Vault, p Personal) (err error) {
	m.Sealed, err = v.SealJSON(p, memberContext(m.GroupID, m.PersonKey))
	return err
}

// OpenPersonal reads a member's personal data.
func OpenPersonal(v *pii.Vault, m Member) (Personal, error) {
	p, err := pii.OpenJSON[Personal](v, m.Sealed, memberContext(m.GroupID, m.PersonKey))
	if err != nil {
		return Personal{}, fmt.Errorf("member of group %s: %w", m.GroupID, err)
	}
	return p, nil
}
