package security

// SetCheckHookForTest makes s call f once for every code that reaches a
// comparison.
func SetCheckHookForTest(s *Service, f func()) { s.checked = f }

// SetEmailCompareHookForTest makes s call f once for every comparison with
// an emailed code.
func SetEmailCompareHookForTest(s *Service, f func()) { s.emailCompared = f }
