package notify

import (
	"context"
	"crypto/sha256"
	"time"

	"roster/internal/core"
)

// IdempotencyTTL is how long an Idempotency-Key's answer is kept.
const IdempotencyTTL = 24 * time.Hour

// MaxIdempotencyKey is the longest key accepted.
const MaxIdempotencyKey = 255

// Errors of Once.
var (
	ErrKeyReused     = core.Errorf(core.EINVALID, "errors.notify.idempotency_reused")
	ErrKeyInProgress = core.Errorf(core.ECONFLICT, "errors.notify.idempotency_in_progress")
)

// Answer is a response kept for an idempotency key.
type Answer struct {
	Status int
	Body   []byte
}

// Once runs do at most once per (workspace, key) within IdempotencyTTL:
// the same key with the same body gets the first answer again and runs
// nothing; with another body ErrKeyReused; while the first is still
// running ErrKeyInProgress. An error from do (nothing was done) frees the
// key, so a retry runs again.
func (s *Service) Once(ctx context.Context, workspaceID int64, key string, body []byte, do func() (Answer, error)) (Answer, bool, error) {
	if len(key) > MaxIdempotencyKey {
		var v core.Invalid
		v.Add("Idempotency-Key", "errors.field.too_long", map[string]any{"Count": MaxIdempotencyKey})
		return Answer{}, false, v.Err()
	}
	sum := sha256.Sum256(body)
	claimed, prev, err := s.db.Writer().ClaimIdempotencyKey(ctx, workspaceID, key, sum[:], IdempotencyTTL)
	if err != nil {
		return Answer{}, false, err
	}
	if !claimed {
		switch {
		case string(prev.RequestHash) != string(sum[:]):
			return Answer{}, false, ErrKeyReused
		case prev.Status == 0:
			return Answer{}, false, ErrKeyInProgress
		}
		return Answer{Status: prev.Status, Body: prev.Response}, true, nil
	}
	ans, err := do()
	if err != nil {
		if rerr := s.db.Writer().ReleaseIdempotencyKey(context.WithoutCancel(ctx), workspaceID, key); rerr != nil {
			s.logger.WarnContext(ctx, "release idempotency key", "err", rerr)
		}
		return Answer{}, false, err
	}
	return ans, false, s.db.Writer().FinishIdempotencyKey(context.WithoutCancel(ctx), workspaceID, key, ans.Status, ans.Body)
}
