package worklist

import (
	"encoding/json"
	"fmt"

	"gridcode/shared/pii"
)

// OpenChunk opens a chunk's evidence, one per key, for the tests to read
// what an upload stored; the reconciliation decodes only the rows it needs.
func OpenChunk(v *pii.Vault, c Chunk) ([]Evidence, error) {
	rows, err := openChunkRows(v, c)
	if err != nil {
		return nil, err
	}
	ev := make([]Evidence, len(rows))
	for i, row := range rows {
		if err := json.Unmarshal(row, &ev[i]); err != nil {
			return nil, fmt.Errorf("chunk %d of list %s: row %d: %w", c.N, c.ListID, i, err)
		}
	}
	return ev, nil
}
