package live

import (
	"context"
	"testing"

	"roster/internal/core"
)

func TestHubLimitsAndWakes(t *testing.T) {
	h := NewHub()
	h.MaxPerUser, h.MaxTotal = 2, 3
	a1, err := h.Subscribe(1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe(1); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe(1); err != ErrTooMany {
		t.Fatalf("third stream of one person: %v", err)
	}
	b1, err := h.Subscribe(2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe(3); err != ErrTooMany {
		t.Fatalf("a stream past the instance's total: %v", err)
	}
	h.Unsubscribe(a1)
	h.Unsubscribe(a1) // twice: counted once
	if _, err := h.Subscribe(3); err != nil {
		t.Fatalf("after one closed: %v", err)
	}
	if h.Count() != 3 {
		t.Fatalf("count %d", h.Count())
	}
	// A wake-up reaches only the person's streams, and coalesces.
	h.Publish(context.Background(), []core.FeedEntry{{UserID: 2}, {UserID: 2}})
	select {
	case <-b1.C:
	default:
		t.Fatal("person 2 not woken")
	}
	select {
	case <-b1.C:
		t.Fatal("wake-ups did not coalesce")
	default:
	}
}
