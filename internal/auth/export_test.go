package auth

import "context"

// HoldSlotForTest takes one hashing slot and returns its release.
func HoldSlotForTest(h *Hasher) func() {
	h.slots <- struct{}{}
	return h.release
}

// OnVerifyForTest makes h call f as each Verify starts.
func OnVerifyForTest(h *Hasher, f func()) { h.verifying = f }

// OnLookupForTest makes s call f as each shared token lookup starts.
func OnLookupForTest(s *Service, f func()) { s.onLookup = f }

// OnReadForTest makes s call f after each token lookup's read.
func OnReadForTest(s *Service, f func()) { s.onRead = f }

// FlushUsesForTest writes s's records of use that wait.
func FlushUsesForTest(s *Service) error { return s.uses.Flush(context.Background()) }

// FlushUsesContextForTest writes s's records of use that wait, under ctx.
func FlushUsesContextForTest(ctx context.Context, s *Service) error { return s.uses.Flush(ctx) }

// HoldUseWriteForTest takes the use log's write slot, as a write in
// progress does, and returns its release.
func HoldUseWriteForTest(s *Service) func() {
	s.uses.writing <- struct{}{}
	return func() { <-s.uses.writing }
}
