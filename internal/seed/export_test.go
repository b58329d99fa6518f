package seed

// SetUserBatch makes batches of n people for the test's run.
func SetUserBatch(t interface{ Cleanup(func()) }, n int) {
	old := userBatch
	userBatch = n
	t.Cleanup(func() { userBatch = old })
}
