package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A skip is written to the skip log, so scripts/gotest.sh can show it on
// a run without -v, where go test prints nothing of a passing package.
func TestSkipIsLogged(t *testing.T) {
	log := filepath.Join(t.TempDir(), "skips")
	t.Setenv(SkipLogEnv, log)
	t.Setenv("ROSTER_TEST_STRICT", "")
	t.Run("needs-chromium", func(t *testing.T) {
		SkipOrFail(t, "Chromium is not installed")
	})
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != "SKIPPED: testenv TestSkipIsLogged/needs-chromium: Chromium is not installed\n" {
		t.Fatalf("skip log %q", got)
	}
	if !strings.HasSuffix(string(b), "\n") {
		t.Fatal("no line end")
	}
}
