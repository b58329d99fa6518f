package secrets_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"roster/internal/secrets"
)

func TestSealOpenAndKeyFile(t *testing.T) {
	dir := t.TempDir()
	box, err := secrets.Load("", dir)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, secrets.KeyFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", info, err)
	}
	sealed := box.Seal([]byte("https://x/invite/secret-token"))
	if bytes.Contains(sealed, []byte("secret-token")) {
		t.Fatal("sealed value shows the plaintext")
	}
	// A second start reads the same key.
	again, err := secrets.Load("", dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := again.Open(sealed)
	if err != nil || string(got) != "https://x/invite/secret-token" {
		t.Fatalf("open: %q %v", got, err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := again.Open(sealed); err == nil {
		t.Fatal("tampered value opened")
	}
	other, _ := secrets.Load("", t.TempDir())
	if _, err := other.Open(box.Seal([]byte("x"))); err == nil {
		t.Fatal("opened under another key")
	}
	if _, err := secrets.Load("c2hvcnQ=", ""); err == nil {
		t.Fatal("short key accepted")
	}
}
