// Package auth holds sign-in: password hashing and rules, sessions, API
// tokens and throttling.
package auth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"roster/internal/argon2id"

	"roster/internal/core"
)

// Argon2id parameters: OWASP's minimum recommendation (19 MiB, 2 passes,
// 1 lane).
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16

	// MinPasswordLen and MaxPasswordLen bound a password, in characters.
	MinPasswordLen = 8
	MaxPasswordLen = 256
)

//go:embed common-passwords.txt
var commonPasswordsFile []byte

var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 4096)
	sc := bufio.NewScanner(bytes.NewReader(commonPasswordsFile))
	for sc.Scan() {
		if w := strings.TrimSpace(sc.Text()); w != "" {
			set[strings.ToLower(w)] = struct{}{}
		}
	}
	return set
})

// IsCommonPassword reports whether pw is on the shipped list of the most
// common passwords (compared case-insensitively).
func IsCommonPassword(pw string) bool {
	_, ok := commonPasswords()[strings.ToLower(pw)]
	return ok
}

// CheckPassword returns a field error key (and data) for a password that
// breaks the rules, or "" when it is acceptable: the one statement of them
// for sign-up, invitations, changes and resets. email is the account's
// address, which the password must not be.
func CheckPassword(pw, email string) (key string, data map[string]any) {
	n := utf8.RuneCountInString(pw)
	switch {
	case pw == "":
		return "errors.field.required", nil
	case n < MinPasswordLen:
		return "errors.field.too_short", map[string]any{"Count": MinPasswordLen}
	case n > MaxPasswordLen:
		return "errors.field.too_long", map[string]any{"Count": MaxPasswordLen}
	case IsCommonPassword(pw):
		return "errors.field.password_common", nil
	case email != "" && strings.EqualFold(strings.TrimSpace(pw), email):
		return "errors.field.password_is_email", nil
	}
	return "", nil
}

// NewPasswordHash is the one way to a new password's hash (setup, CLI,
// invitation, change, reset): it applies CheckPassword against the account's
// email, adding its error to v under field, and hashes only when v then holds
// no error, returning v's EINVALID error otherwise. Taking the caller's v lets
// a form report every bad field at once without hashing input it refuses
// anyway. v may be nil when the password is the only field.
func (s *Service) NewPasswordHash(ctx context.Context, v *core.Invalid, password, email, field string) (string, error) {
	if v == nil {
		v = &core.Invalid{}
	}
	if key, data := CheckPassword(password, email); key != "" {
		v.Add(field, key, data)
	}
	if err := v.Err(); err != nil {
		return "", err
	}
	return s.Hasher.Hash(ctx, password)
}

// Hasher hashes and verifies passwords with argon2id. Each hash takes 19 MiB,
// so a semaphore caps how many run at once: a flood of sign-ins queues
// instead of exhausting memory. The memory is reused from hash to hash
// (package argon2id), not allocated and collected for each.
type Hasher struct {
	slots chan struct{}
	// verifying, when set, is called as each Verify starts (tests count
	// the guesses that reach the expensive check).
	verifying func()
}

// NewHasher returns a Hasher that runs at most concurrency hashes at once.
func NewHasher(concurrency int) *Hasher {
	if concurrency < 1 {
		concurrency = 1
	}
	return &Hasher{slots: make(chan struct{}, concurrency)}
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for a password hashing slot: %w", ctx.Err())
	}
}

func (h *Hasher) release() { <-h.slots }

// Hash returns the PHC-format argon2id hash of pw.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	key := argon2id.IDKey([]byte(pw), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	h.release()
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2id.Version, argonMemoryKiB, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errBadHash = errors.New("malformed password hash")

// parseHash splits a PHC argon2id string into its parameters.
func parseHash(encoded string) (mem, t uint32, p uint8, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return 0, 0, 0, nil, nil, errBadHash
	}
	if _, err = fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &t, &p); err != nil || mem == 0 || t == 0 || p == 0 {
		return 0, 0, 0, nil, nil, errBadHash
	}
	if salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return 0, 0, 0, nil, nil, errBadHash
	}
	if key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(key) == 0 {
		return 0, 0, 0, nil, nil, errBadHash
	}
	return mem, t, p, salt, key, nil
}

// Verify reports whether pw matches the PHC hash. An empty or malformed hash
// still costs one full hash, so callers answer in similar time either way.
func (h *Hasher) Verify(ctx context.Context, encoded, pw string) (bool, error) {
	if h.verifying != nil {
		h.verifying()
	}
	mem, t, p, salt, want, parseErr := parseHash(encoded)
	if parseErr != nil {
		mem, t, p, salt, want = argonMemoryKiB, argonTime, argonThreads, make([]byte, argonSaltLen), make([]byte, argonKeyLen)
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	got := argon2id.IDKey([]byte(pw), salt, t, mem, p, uint32(len(want)))
	h.release()
	if parseErr != nil {
		if encoded == "" {
			return false, nil
		}
		return false, parseErr
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
