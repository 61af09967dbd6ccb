package ratelimit

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMemoryBlocks(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 17, 12, 0, 0, 0, time.UTC)
	m := NewMemoryBlocks()
	blocks := []Block{
		{Key: "user:bob", Until: now.Add(time.Hour), Reason: "abuse: 50 rejections in 1m"},
		{Key: "client:app-1", Until: now.Add(time.Minute), Reason: "operator"},
		{Key: "client:gone", Until: now.Add(-time.Second), Reason: "already over"},
	}
	for _, b := range blocks {
		if err := m.Block(ctx, b); err != nil {
			t.Fatalf("Block(%s): %v", b.Key, err)
		}
	}
	tests := []struct {
		name string
		key  string
		at   time.Time
		want bool
	}{
		{"in force", "user:bob", now, true},
		{"last ns", "user:bob", now.Add(time.Hour - 1), true},
		{"short block", "client:app-1", now.Add(30 * time.Second), true},
		{"ended before it was set", "client:gone", now, false},
		{"unknown", "user:alice", now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, got := m.Blocked(tt.key, tt.at)
			if got != tt.want {
				t.Fatalf("Blocked(%s) = %v, want %v", tt.key, got, tt.want)
			}
			if got && b.Key != tt.key {
				t.Errorf("Blocked(%s) returned block of %q", tt.key, b.Key)
			}
		})
	}

	list, err := m.List(ctx, now.Add(2*time.Minute))
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if diff := cmp.Diff(blocks[:1], list); diff != "" {
		t.Errorf("List mismatch (-want +got):\n%s", diff)
	}
	// List dropped the blocks that were over.
	m.mu.RLock()
	held := len(m.blocks)
	m.mu.RUnlock()
	if held != 1 {
		t.Errorf("%d blocks held after List, want 1", held)
	}

	// Blocked at or after the end answers no, and drops the block.
	if _, ok := m.Blocked("user:bob", now.Add(time.Hour)); ok {
		t.Error("blocked at Until")
	}
	m.mu.RLock()
	held = len(m.blocks)
	m.mu.RUnlock()
	if held != 0 {
		t.Errorf("%d blocks held after the last one ended, want 0", held)
	}

	// A new block replaces the old one; lifting ends it at once.
	longer := Block{Key: "user:bob", Until: now.Add(48 * time.Hour), Reason: "second offence"}
	if err := m.Block(ctx, longer); err != nil {
		t.Fatalf("Block: %v", err)
	}
	if b, ok := m.Blocked("user:bob", now.Add(2*time.Hour)); !ok || b.Reason != "second offence" {
		t.Errorf("after replacing: Blocked = %+v, %v", b, ok)
	}
	if err := m.Lift(ctx, "user:bob"); err != nil {
		t.Fatalf("Lift: %v", err)
	}
	if _, ok := m.Blocked("user:bob", now); ok {
		t.Error("still blocked after Lift")
	}
	if err := m.Lift(ctx, "user:nobody"); err != nil {
		t.Errorf("Lift of an unblocked key = %v, want nil", err)
	}
}

func TestMemoryBlocksListSorted(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 17, 12, 0, 0, 0, time.UTC)
	m := NewMemoryBlocks()
	for _, k := range []string{"c", "a", "b"} {
		if err := m.Block(ctx, Block{Key: k, Until: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	list, err := m.List(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range list {
		got = append(got, b.Key)
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, got); diff != "" {
		t.Errorf("List order mismatch (-want +got):\n%s", diff)
	}
	empty, err := NewMemoryBlocks().List(ctx, now)
	if err != nil || empty == nil || len(empty) != 0 {
		t.Errorf("List of none = %#v, %v; want an empty, non-nil list", empty, err)
	}
}

func TestMemoryBlocksInvalid(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 17, 12, 0, 0, 0, time.UTC)
	m := NewMemoryBlocks()
	tests := []struct {
		name string
		err  error
	}{
		{"empty key", m.Block(ctx, Block{Until: now.Add(time.Hour)})},
		{"no end", m.Block(ctx, Block{Key: "user:bob"})},
		{"lift empty key", m.Lift(ctx, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, ErrInvalidBlock) {
				t.Errorf("err = %v, want ErrInvalidBlock", tt.err)
			}
		})
	}
	if list, _ := m.List(ctx, now); len(list) != 0 {
		t.Errorf("invalid blocks stored: %+v", list)
	}
}

func TestMemoryBlocksMonotonicStripped(t *testing.T) {
	m := NewMemoryBlocks()
	until := time.Now().Add(time.Hour) // carries a monotonic reading
	if err := m.Block(context.Background(), Block{Key: "k", Until: until}); err != nil {
		t.Fatal(err)
	}
	b, ok := m.Blocked("k", until.Add(-time.Minute))
	if !ok || b.Until != until.Round(0) {
		t.Errorf("Blocked = %+v, %v; want Until without a monotonic reading", b, ok)
	}
}

func TestMemoryBlocksConcurrent(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 17, 12, 0, 0, 0, time.UTC)
	m := NewMemoryBlocks()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				k := "k" + strconv.Itoa(i%20)
				switch (w + i) % 4 {
				case 0:
					_ = m.Block(ctx, Block{Key: k, Until: now.Add(time.Duration(i%3-1) * time.Minute)})
				case 1:
					m.Blocked(k, now)
				case 2:
					_, _ = m.List(ctx, now)
				case 3:
					_ = m.Lift(ctx, k)
				}
			}
		})
	}
	wg.Wait()
	list, _ := m.List(ctx, now)
	for _, b := range list {
		if !now.Before(b.Until) {
			t.Errorf("List returned a block over at now: %+v", b)
		}
	}
}
