package config

import (
	"time"

	"github.com/portcullis/portcullis/internal/duration"
)

// Shutdown says how a node stops on SIGTERM or SIGINT: first it drains
// (still serving, /readyz answering 503 so load balancers take it out of
// rotation, keep-alives off so clients reconnect elsewhere), then it
// stops accepting connections and gives requests in flight Grace to
// finish.
type Shutdown struct {
	// DrainDelay is how long the node keeps serving after the signal
	// while /readyz fails. Set it to a little more than the load
	// balancer's probe period times its failure threshold. Zero (the
	// default) stops accepting at once, as a node that no load balancer
	// probes should.
	DrainDelay Duration `yaml:"drain_delay"`
	// Grace is how long requests in flight get to finish once the node
	// stops accepting; what is still open then is closed. Zero means
	// 15s. Keep it above the longest API timeouts.response a client
	// should see completed.
	Grace Duration `yaml:"grace"`
}

// DefaultShutdownGrace is Shutdown.Grace's default.
const DefaultShutdownGrace = 15 * time.Second

// ApplyDefaults fills Grace; Config.ApplyDefaults calls it.
func (s *Shutdown) ApplyDefaults() {
	setDuration(&s.Grace, DefaultShutdownGrace)
}

// shutdown checks the shutdown section. Both bounds keep a stop from
// hanging a rolling deploy: Kubernetes' default termination grace period
// is 30s, and a node that takes minutes to stop is a stuck node.
func (v *validator) shutdown() {
	s := v.c.Shutdown
	v.duration("shutdown.drain_delay", s.DrainDelay, duration.Bounds{Max: 5 * time.Minute})
	v.duration("shutdown.grace", s.Grace, duration.Bounds{Min: time.Second, Max: 10 * time.Minute})
}
