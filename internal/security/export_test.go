package security

// SetCheckHookForTest makes s call f once for every code that reaches a
// comparison.
func SetCheckHookForTest(s *Service, f func()) { s.checked = f }
