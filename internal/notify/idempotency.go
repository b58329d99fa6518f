package notify

import (
	"context"
	"crypto/sha256"
	"time"

	"roster/internal/core"
	"roster/internal/store"
)

// IdempotencyTTL is how long an Idempotency-Key's answer is kept.
const IdempotencyTTL = 24 * time.Hour

// abandonedClaim is how long a claim may stay without an answer before it
// is taken for the claim of a request that died. The answer commits with
// the events, so such a claim has nothing committed behind it.
const abandonedClaim = time.Minute

// MaxIdempotencyKey is the longest key accepted.
const MaxIdempotencyKey = 255

// Errors of IntakeOnce.
var (
	ErrKeyReused     = core.Errorf(core.EINVALID, "errors.notify.idempotency_reused")
	ErrKeyInProgress = core.Errorf(core.ECONFLICT, "errors.notify.idempotency_in_progress")
)

// Answer is a response kept for an idempotency key.
type Answer struct {
	Status int
	Body   []byte
}

// idemKey is a claimed key and how to write its answer.
type idemKey struct {
	workspaceID int64
	key         string
	answer      func([]Accepted) (Answer, error)
}

func (k *idemKey) finish(ctx context.Context, q *store.Q, out []Accepted) error {
	a, err := k.answer(out)
	if err != nil {
		return err
	}
	return q.FinishIdempotencyKey(ctx, k.workspaceID, k.key, a.Status, a.Body)
}

// validKey accepts printable ASCII only: the key is a header value, and
// anything else is either a mistake or would not survive every database.
func validKey(key string) bool {
	if key == "" || len(key) > MaxIdempotencyKey {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return false
		}
	}
	return true
}

// IntakeOnce is Intake at most once per (workspace, key) within
// IdempotencyTTL: the same key with the same body gets the first answer
// again and stores nothing; with another body ErrKeyReused; while the
// first is still running ErrKeyInProgress. The answer, made by answer
// from what was accepted, is stored in the same transaction as the events,
// so a crash leaves either both or neither. A refused request frees the
// key.
func (s *Service) IntakeOnce(ctx context.Context, actor *core.User, in []EventInput, key string, body []byte,
	answer func([]Accepted) (Answer, error)) (Answer, error) {
	if !validKey(key) {
		var v core.Invalid
		v.Add("Idempotency-Key", "errors.notify.idempotency_key", map[string]any{"Max": MaxIdempotencyKey})
		return Answer{}, v.Err()
	}
	in, err := s.checkAll(in)
	if err != nil {
		return Answer{}, err
	}
	sum := sha256.Sum256(body)
	claimed, prev, err := s.db.Writer().ClaimIdempotencyKey(ctx, actor.WorkspaceID, key, sum[:], IdempotencyTTL, abandonedClaim)
	if err != nil {
		return Answer{}, err
	}
	if !claimed {
		switch {
		case string(prev.RequestHash) != string(sum[:]):
			return Answer{}, ErrKeyReused
		case prev.Status == 0:
			return Answer{}, ErrKeyInProgress
		}
		return Answer{Status: prev.Status, Body: prev.Response}, nil
	}
	k := &idemKey{workspaceID: actor.WorkspaceID, key: key, answer: answer}
	out, err := s.group.submit(ctx, s, &intakeReq{actor: actor, in: in, idem: k})
	if err != nil {
		if rerr := s.db.Writer().ReleaseIdempotencyKey(context.WithoutCancel(ctx), actor.WorkspaceID, key); rerr != nil {
			s.logger.WarnContext(ctx, "release idempotency key", "err", rerr)
		}
		return Answer{}, err
	}
	return answer(out)
}
