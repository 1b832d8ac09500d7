package worklist

import (
	"time"

	"gridcode/shared/fields"
	"gridcode/shared/registry"
)

// checkEntry checks and normalises a registry entry a worker typed at the
// door as registry.CheckRow checks an import's row, reporting every problem
// under prefix ("newPerson.idNumber"); documentOK says the document is
// valid, so the person key can be computed.
func checkEntry(c *fields.Collector, prefix string, e registry.Entry, now time.Time) (out registry.Entry, documentOK bool) {
	out, errs := registry.CheckRow(e.Row(), 0, now)
	documentOK = true
	for _, re := range errs {
		c.Add(prefix+"."+re.Field, re.Reason)
		if re.Field == "idType" || re.Field == "idNumber" {
			documentOK = false
		}
	}
	return out, documentOK
}
