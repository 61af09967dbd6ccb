package cluster

import (
	"testing"
	"time"
)

// revocationBound is the documented bound for a revoked opaque token to
// be refused by every gateway when revocation notices travel through
// Redis (docs/gateway.md, Revocation). Delivery takes milliseconds on
// loopback; the bound leaves room for a loaded CI machine.
const revocationBound = time.Second

// TestCluster starts one cluster and runs the scenarios on it in order;
// those that stop a node start it again before they end.
func TestCluster(t *testing.T) {
	c := Start(t)
	t.Run("tokens_across_nodes", func(t *testing.T) { tokensAcrossNodes(t, c) })
	t.Run("refresh_family_across_nodes", func(t *testing.T) { refreshFamilyAcrossNodes(t, c) })
	t.Run("revocation_across_gateways", func(t *testing.T) { revocationAcrossGateways(t, c) })
	t.Run("key_rotation_under_load", func(t *testing.T) { keyRotationUnderLoad(t, c) })
	t.Run("exact_limits_across_gateways", func(t *testing.T) { exactLimitsAcrossGateways(t, c) })
	t.Run("killed_gateway", func(t *testing.T) { killedGateway(t, c) })
	t.Run("drained_gateway", func(t *testing.T) { drainedGateway(t, c) })
	t.Run("postgres_outage", func(t *testing.T) { postgresOutage(t, c) })
	t.Run("redis_outage", func(t *testing.T) { redisOutage(t, c) })
	t.Run("bad_reload", func(t *testing.T) { badReload(t, c) })
}
