package phantom_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/phantom"
)

// TestIntrospectorCallLimit: a flood of distinct, well-shaped unknown
// tokens costs the authorization server at most the cap of concurrent
// calls, shared by the resolvers of one issuer; past the cap a miss
// fails at once with ErrBusy (503, never queued), and nothing of it is
// cached.
func TestIntrospectorCallLimit(t *testing.T) {
	const (
		flood = 10000
		limit = 8
	)
	calls := phantom.NewCallLimit(limit)
	f := newFixture(t, phantom.IntrospectorConfig{Calls: calls})
	// A second resolver of the same issuer (another audience set) shares
	// the limit.
	other, err := phantom.NewIntrospector(phantom.IntrospectorConfig{
		URL: f.as.URL, ClientID: gatewayID, ClientSecret: gatewaySecret, Calls: calls,
		Client: defaultClient(t, phantom.IntrospectorConfig{}),
	}, f.ver, nil, f.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	f.as.Block(gate)

	tokens := make([]string, flood)
	for i := range tokens {
		tokens[i] = opaque(t)
	}
	var (
		wg                     sync.WaitGroup
		returned, busy, others atomic.Int64
	)
	resolve := func(i int) {
		in := f.in
		if i%2 == 1 {
			in = other
		}
		_, err := in.Resolve(t.Context(), tokens[i])
		switch {
		case errors.Is(err, phantom.ErrBusy):
			if !errors.Is(err, phantom.ErrUnavailable) {
				t.Errorf("ErrBusy does not wrap ErrUnavailable: %v", err)
			}
			busy.Add(1)
		case errors.Is(err, phantom.ErrInactive):
		default:
			others.Add(1)
		}
		returned.Add(1)
	}
	// Many callers at once, far more than the limit: the few held at the
	// server leave the others to drain the flood (500 goroutines keep
	// the race detector's limit out of reach).
	work := make(chan int)
	for range 500 {
		wg.Go(func() {
			for i := range work {
				resolve(i)
			}
		})
	}
	go func() {
		for i := range tokens {
			work <- i
		}
		close(work)
	}()
	// Every caller has either been refused or is held at the server.
	for returned.Load()+f.as.InFlight() < flood {
		time.Sleep(time.Millisecond)
	}
	if got := f.as.MaxInFlight(); got > limit {
		t.Errorf("concurrent introspections = %d, want at most %d", got, limit)
	}
	if got := calls.InFlight(); got > limit {
		t.Errorf("CallLimit.InFlight() = %d, want at most %d", got, limit)
	}
	close(gate)
	wg.Wait()
	if got := f.as.Calls(); got > limit {
		t.Errorf("introspection calls = %d, want at most %d", got, limit)
	}
	if got, want := busy.Load(), int64(flood)-f.as.Calls(); got != want {
		t.Errorf("ErrBusy answers = %d, want %d (every caller that found no slot)", got, want)
	}
	if n := others.Load(); n != 0 {
		t.Errorf("%d callers got neither ErrBusy nor ErrInactive", n)
	}
	if got := calls.InFlight(); got != 0 {
		t.Errorf("slots still taken after the flood: %d", got)
	}
	// A refusal is not cached: the same token is asked about once a slot
	// is free.
	f.as.Block(nil)
	before := f.as.Calls()
	for _, tok := range tokens[:2*limit] {
		_, _ = f.in.Resolve(t.Context(), tok)
	}
	if f.as.Calls() == before {
		t.Error("tokens refused as busy were never asked about again")
	}
	if st := f.in.Stats(); st.Busy == 0 {
		t.Errorf("Stats().Busy = 0, want the refusals counted")
	}
}
