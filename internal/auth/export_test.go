package auth

// HoldSlotForTest takes one hashing slot and returns its release.
func HoldSlotForTest(h *Hasher) func() {
	h.slots <- struct{}{}
	return h.release
}
