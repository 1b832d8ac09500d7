package dynamo

import (
	"testing"

	"gridcode/shared/store/storetest"
)

func TestAuditContract(t *testing.T) {
	storetest.RunAudit(t, func(t *testing.T) storetest.AuditStore {
		client, tables := freshWorkTables(t)
		return New(client, tables)
	})
}
