package dynamo

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"gridcode/infra/dynamolocal"
	"gridcode/shared/store/storetest"
)

func TestMain(m *testing.M) { dynamolocal.Main(m) }

var tableSeq atomic.Int64

// freshTables creates a new set of tables for one test, so tests run in
// parallel on one DynamoDB Local without seeing each other's items.
func freshTables(t *testing.T) (*Store, Tables) {
	t.Helper()
	client := dynamolocal.Client(t)
	n := tableSeq.Add(1)
	tables := Tables{
		Reports: fmt.Sprintf("t%d-reports", n), Alerts: fmt.Sprintf("t%d-alerts", n),
		Grids: fmt.Sprintf("t%d-grids", n), Rules: fmt.Sprintf("t%d-rules", n), DailyCounts: fmt.Sprintf("t%d-daily-counts", n),
	}
	if err := CreateTables(context.Background(), client, tables); err != nil {
		t.Fatal(err)
	}
	return New(client, tables), tables
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		s, _ := freshTables(t)
		return s
	})
}

func TestLedgerContract(t *testing.T) {
	storetest.RunLedger(t, func(t *testing.T) storetest.LedgerStore {
		s, _ := freshTables(t)
		return s
	})
}
