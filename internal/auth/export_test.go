package auth

// HoldSlotForTest takes one hashing slot and returns its release.
func HoldSlotForTest(h *Hasher) func() {
	h.slots <- struct{}{}
	return h.release
}

// OnVerifyForTest makes h call f as each Verify starts.
func OnVerifyForTest(h *Hasher, f func()) { h.verifying = f }
