package auth

import (
	"testing"
	"time"

	"roster/internal/store"
)

// TestUsesWrittenInIDOrder: a batch's rows go out in the order of their
// ids, so two instances' batches lock shared rows in the same order (on
// PostgreSQL, opposite orders deadlock and one batch is aborted).
func TestUsesWrittenInIDOrder(t *testing.T) {
	m := map[int64]store.Use{}
	for _, id := range []int64{42, 7, 19, 3, 88, 1, 56} {
		m[id] = store.Use{ID: id, At: time.Now()}
	}
	for range 20 { // map order differs from one range to the next
		list := byID(m)
		for i := 1; i < len(list); i++ {
			if list[i-1].ID >= list[i].ID {
				t.Fatalf("batch order %v, want ascending ids", list)
			}
		}
	}
}
