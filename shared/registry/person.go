package registry

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"gridcode/shared/grid"
	"gridcode/shared/idcard"
	"gridcode/shared/phone"
	"gridcode/shared/pii"
	"gridcode/shared/report"
)

// contentVersion is part of every ContentHash: changing how entries are
// built or tokenised (bump it) makes the next import rewrite everyone.
const contentVersion = "1"

// Build makes the stored entry of a checked entry: its key (the person's
// report.PersonLookup, so reports, groups and registry meet), its home
// grid (grid.Directory.ForPlace; grid.Unassigned for a community the
// directory does not know), the community and town as the directory names
// them, status active, the search tokens, the content hash of everything
// an import sets, and the personal data sealed to the key. source names
// the import or task writing it.
func Build(v *pii.Vault, grids *grid.Directory, e Entry, source string, now time.Time) (Person, error) {
	p := Person{
		Key:          report.PersonLookup(v, e.IDType, e.IDNumber),
		IDType:       e.IDType,
		GridCode:     grid.Unassigned,
		Town:         e.Town,
		Community:    e.Community,
		ResidentType: e.ResidentType,
		Status:       StatusActive,
		Source:       source,
		UpdatedAt:    now.UTC(),
	}
	if grids != nil {
		if code, ok := grids.ForPlace(e.Town, e.Community, e.Address); ok {
			g, _ := grids.Lookup(code)
			p.GridCode, p.Community = code, g.Community
			if g.Town != "" {
				p.Town = g.Town
			}
		}
	}
	e.Town, e.Community = p.Town, p.Community
	p.Tokens = Tokens(v, e)
	p.ContentHash = ContentHash(v, p, e.Personal)
	var err error
	if p.Sealed, err = v.Seal(personalJSON(e.Personal), p.Key); err != nil {
		return Person{}, fmt.Errorf("seal registry entry: %w", err)
	}
	return p, nil
}

// ContentHash is the keyed hash of everything an import sets on an entry
// (not its source or time), so a row that says what the registry already
// holds is recognised as unchanged. Whoever changes an entry (a visit
// marking it moved out) sets the hash anew with it.
func ContentHash(v *pii.Vault, p Person, personal Personal) string {
	return v.Lookup("rs-content", contentVersion, p.Key, string(p.IDType), p.GridCode, p.Town, p.Community,
		string(p.ResidentType), p.Status, personal.Name, personal.IDNumber, personal.Phone, personal.Address,
		personal.LandlordPhone)
}

// Open reads an entry's personal data.
func Open(v *pii.Vault, p Person) (Personal, error) {
	personal, err := pii.OpenJSON[Personal](v, p.Sealed, p.Key)
	if err != nil {
		return Personal{}, fmt.Errorf("open registry entry: %w", err)
	}
	return personal, nil
}

// Masked is p as staff see it: the name and the address to find the
// person by, the ID number (of kind) and both phones masked.
func (p Personal) Masked(kind idcard.Kind) Personal {
	p.IDNumber = idcard.Mask(kind, p.IDNumber)
	p.Phone = phone.Mask(p.Phone)
	p.LandlordPhone = phone.Mask(p.LandlordPhone)
	return p
}

// personalJSON is json.Marshal(p) without reflection, which an import of
// 800,000 rows would otherwise spend a good part of its time in.
func personalJSON(p Personal) []byte {
	b := make([]byte, 0, 96+len(p.Name)+len(p.IDNumber)+len(p.Phone)+len(p.Address)+len(p.LandlordPhone))
	b = append(b, `{"name":`...)
	b = appendJSONString(b, p.Name)
	b = append(b, `,"idNumber":`...)
	b = appendJSONString(b, p.IDNumber)
	if p.Phone != "" {
		b = append(b, `,"phone":`...)
		b = appendJSONString(b, p.Phone)
	}
	b = append(b, `,"address":`...)
	b = appendJSONString(b, p.Address)
	if p.LandlordPhone != "" {
		b = append(b, `,"landlordPhone":`...)
		b = appendJSONString(b, p.LandlordPhone)
	}
	return append(b, '}')
}

// appendJSONString quotes s as JSON. Checked text needs no escaping; text
// that does (quotes, control characters, what encoding/json escapes for
// HTML, invalid UTF-8) goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return appendMarshalled(b, s)
		}
	}
	for _, r := range s {
		if r == utf8.RuneError || r == '\u2028' || r == '\u2029' {
			return appendMarshalled(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendMarshalled(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}
