// Package registry is the district's population registry (人口管理底册):
// who lives where, in which grid. People are stored sealed; they are found
// by keyed-hash search tokens (name, its pinyin and initials, the house
// number of the address, the last four digits of phone and ID), so neither
// the store nor its operators can read a name out of the index.
package registry

import (
	"context"
	"errors"
	"time"

	"gridcode/shared/idcard"
)

// ResidentType is how a person lives in the district.
type ResidentType string

const (
	Permanent ResidentType = "permanent" // 常住
	Floating  ResidentType = "floating"  // 流动
	Outsider  ResidentType = "outsider"  // 外来
)

// Status of a registry entry.
const (
	StatusActive   = "active"
	StatusMovedOut = "moved_out"
)

// Person is a registry entry as stored. Key is report.PersonLookup of the
// document, so a person's reports, groups and registry entry meet.
type Person struct {
	Key          string       `json:"personKey"`
	IDType       idcard.Kind  `json:"idType"`
	GridCode     string       `json:"gridCode"`
	Town         string       `json:"town"`
	Community    string       `json:"community"`
	ResidentType ResidentType `json:"residentType"`
	Status       string       `json:"status"`
	// Tokens are the keyed-hash search tokens of the person (see Tokens).
	Tokens []string `json:"searchTokens"`
	// ContentHash is a keyed hash of everything an import sets: a row that
	// hashes the same changes nothing.
	ContentHash string `json:"contentHash"`
	// ImportHash is the ContentHash of the import row that last set the
	// entry: the Importer sets both to the row's hash, and the store keeps
	// it through writes that are not an import's (a visit). So a re-import
	// of a stale export, whose row for the entry is the one already
	// imported, does not undo what visits changed since (see PutPeople).
	// Empty for an entry no import has set.
	ImportHash string    `json:"importHash,omitempty"`
	Source     string    `json:"source"` // the import or task that last wrote the entry
	UpdatedAt  time.Time `json:"updatedAt"`
	Sealed     []byte    `json:"personalSealed"`
}

// Personal is what Person.Sealed holds.
type Personal struct {
	Name          string `json:"name"`
	IDNumber      string `json:"idNumber"`
	Phone         string `json:"phone,omitempty"`
	Address       string `json:"address"`
	LandlordPhone string `json:"landlordPhone,omitempty"`
}

// ErrNotFound is returned for an unknown person or import.
var ErrNotFound = errors.New("registry: not found")

// ErrConflict is returned by PutImport when the stored record is not at
// the version the writer read: another run of the import has written it
// since, and owns the import now.
var ErrConflict = errors.New("registry: import written by another run")

// Store keeps the registry and its search index.
type Store interface {
	// PutPeople writes people, with their search tokens (dropping the
	// tokens the old entry had and the new one has not), and returns how
	// many it wrote. Which it writes depends on where a person comes from:
	//
	//   - An import's row (ImportHash set and equal to ContentHash) is
	//     written unless the stored entry's ImportHash is the same: then the
	//     entry was set from this very row, and whatever differs now was
	//     changed since by visits (moved out, corrected), which the next
	//     import of a stale export must not undo. A changed row (a newer
	//     export) is written, and so is a row equal to the entry that was
	//     not imported from it, to record its ImportHash.
	//   - Any other write (a visit) is written unless the stored entry has
	//     the same ContentHash. The stored ImportHash is kept whatever the
	//     person carries. Such a write should leave ImportHash empty: a copy
	//     of a stored entry that keeps it is told from an import's row only
	//     by its ContentHash, so one changed back to exactly what the import
	//     said would be taken for that row, and skipped.
	PutPeople(ctx context.Context, people []Person) (written int, err error)
	// GetPeople returns the stored entries of keys; unknown keys are absent.
	GetPeople(ctx context.Context, keys []string) (map[string]Person, error)
	// Find returns, for each token, the keys of the people indexed under it
	// in the given communities (every community when empty), at most limit
	// keys per token.
	Find(ctx context.Context, tokens []string, communities []string, limit int) (map[string][]string, error)
	// PersonKeys returns every person key with its grid, for reconciling a
	// list against the registry.
	PersonKeys(ctx context.Context) (map[string]string, error)
}

// Import is one run of a registry file. An import stops and resumes at a
// checkpoint: Offset bytes and Line lines of the file are done.
type Import struct {
	ID string `json:"importId"`
	// Source is the file's base name, as the uploader named it: never its
	// bucket or folder.
	Source     string    `json:"source"`
	Status     string    `json:"status"` // running, done, failed
	Reason     string    `json:"reason,omitempty"`
	Offset     int64     `json:"offset"`
	Line       int       `json:"line"`
	Rows       int       `json:"rows"`      // data rows read
	Written    int       `json:"written"`   // new or changed people
	Unchanged  int       `json:"unchanged"` // rows equal to the stored entry, or already imported into it
	Bad        int       `json:"bad"`       // rows refused, each in the error file
	StartedAt  time.Time `json:"startedAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	ExpiresAt  int64     `json:"expiresAt"`
	// Version counts the writes of the record (0: not stored yet). Each
	// PutImport moves it on by one from the version its writer read, so
	// two runs of one import (an S3 event delivered again while a
	// continuation runs) cannot both move the checkpoint: the second is
	// refused with ErrConflict.
	Version int `json:"version"`
}

// Import statuses.
const (
	ImportRunning = "running"
	ImportDone    = "done"
	ImportFailed  = "failed"
)

// RowError is one refused row. It names the line, the column and why, never
// the value: the error file must not carry personal data.
type RowError struct {
	Line   int    `json:"line"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// ImportStore keeps import runs, their checkpoints and refused rows.
type ImportStore interface {
	// PutImport stores im if the stored record is at version fromVersion
	// (0: absent, or stored before records had versions), else returns
	// ErrConflict and changes nothing. im.Version must be fromVersion+1.
	PutImport(ctx context.Context, im Import, fromVersion int) error
	// GetImport returns ErrNotFound for an unknown id.
	GetImport(ctx context.Context, id string) (Import, error)
	// PutRowErrors stores the refused rows of one chunk of the file, keyed by
	// the chunk's first line, so a chunk redone after a resume replaces its
	// errors rather than adding them twice.
	PutRowErrors(ctx context.Context, importID string, firstLine int, errs []RowError) error
	// RowErrors lists an import's refused rows by line.
	RowErrors(ctx context.Context, importID string) ([]RowError, error)
}

// ToWrite applies the rule of Store.PutPeople to p, given the stored
// entry (exists, and its ContentHash and ImportHash): whether to write,
// and the person to write, which carries the ImportHash the entry keeps.
// Both stores call it, so they cannot tell the rule two ways.
func ToWrite(p Person, exists bool, contentHash, importHash string) (Person, bool) {
	if p.ImportHash != "" && p.ImportHash == p.ContentHash {
		// An import's row.
		return p, !exists || importHash != p.ImportHash
	}
	p.ImportHash = importHash // "" for a new entry
	return p, !exists || contentHash != p.ContentHash
}

// Entry is a registry entry before it is sealed: what an import row, a
// verified visit or a newly found person says.
type Entry struct {
	Personal
	IDType       idcard.Kind
	Town         string
	Community    string
	ResidentType ResidentType
}
