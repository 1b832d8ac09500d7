package embedded

import (
	"testing"

	"gridcode/shared/store/storetest"
)

func TestRegistryContract(t *testing.T) {
	storetest.RunRegistry(t, func(t *testing.T) storetest.RegistryStore { return openTemp(t) })
}

func TestWorklistContract(t *testing.T) {
	storetest.RunWorklist(t, func(t *testing.T) storetest.WorklistStore { return openTemp(t) })
}

func TestFollowUpContract(t *testing.T) {
	storetest.RunFollowUps(t, func(t *testing.T) storetest.FollowUpStore { return openTemp(t) })
}

func TestStatsContract(t *testing.T) {
	storetest.RunStats(t, func(t *testing.T) storetest.StatsStore { return openTemp(t) })
}

func TestAuditContract(t *testing.T) {
	storetest.RunAudit(t, func(t *testing.T) storetest.AuditStore { return openTemp(t) })
}
