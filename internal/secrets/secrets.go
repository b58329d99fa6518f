// Package secrets seals values that must be stored but must not be readable
// from the database alone (mail bodies holding one-time links in the job
// queue now; authenticator secrets later), with AES-256-GCM under a key kept
// outside the database.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeyFile is the key's file name in the data folder when no key is given.
const KeyFile = "secret.key"

// Box seals and opens values, and keys hashes of short codes.
type Box struct {
	aead   cipher.AEAD
	macKey []byte
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secret key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	// A separate key for MACs, derived so the sealing key is never reused.
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("roster code hashing"))
	return &Box{aead: aead, macKey: mac.Sum(nil)}, nil
}

// MAC hashes a short secret (a 6-digit code, a backup code) with a key the
// database does not hold: a stolen database cannot brute-force the few
// million possible codes offline.
func (b *Box) MAC(secret string) []byte {
	m := hmac.New(sha256.New, b.macKey)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// Load returns the Box for encoded (base64 of 32 bytes) when it is set;
// otherwise it reads dataDir/secret.key, creating it with a fresh random key
// (mode 0600) on first start. Several instances must share one key: set it
// explicitly for them.
func Load(encoded, dataDir string) (*Box, error) {
	if encoded != "" {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
		if err != nil {
			return nil, fmt.Errorf("secret key is not base64: %w", err)
		}
		return New(key)
	}
	path := filepath.Join(dataDir, KeyFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		if err := os.MkdirAll(dataDir, 0o750); err != nil {
			return nil, fmt.Errorf("create data folder: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create secret key file: %w", err)
		}
		_, werr := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
		if err := errors.Join(werr, f.Close()); err != nil {
			return nil, fmt.Errorf("write secret key file: %w", err)
		}
		return New(key)
	}
	if err != nil {
		return nil, fmt.Errorf("read secret key file: %w", err)
	}
	return Load(string(data), "")
}

// Seal encrypts plaintext with a random nonce.
func (b *Box) Seal(plaintext []byte) []byte {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	_, _ = rand.Read(nonce)
	return b.aead.Seal(nonce, nonce, plaintext, nil)
}

// ErrOpen means a sealed value was tampered with or sealed under another key.
var ErrOpen = errors.New("cannot open sealed value (wrong key or damaged)")

// Open decrypts a value made by Seal.
func (b *Box) Open(sealed []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n {
		return nil, ErrOpen
	}
	out, err := b.aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}
