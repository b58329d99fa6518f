package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Idempotency is a stored answer to a request made with an
// Idempotency-Key.
type Idempotency struct {
	RequestHash []byte
	Status      int    // 0 while the first request is still running
	Response    []byte // the answer's body
}

// ClaimIdempotencyKey claims key for a request whose body hashes to hash:
// claimed is true when this request is the first within ttl (a key older
// than ttl is taken over). Otherwise prev is what the key holds: a
// different hash, a request still running (Status 0), or the answer.
// One statement decides, so two racing requests cannot both claim it.
//
// An answer is kept for ttl. A claim still without an answer after
// abandonAfter was left by a request that died before committing anything
// (the answer commits with the work), so it is taken over.
func (q *Q) ClaimIdempotencyKey(ctx context.Context, workspaceID int64, key string, hash []byte, ttl, abandonAfter time.Duration) (claimed bool, prev *Idempotency, err error) {
	// A claim released between the two statements below is claimed again.
	for range 3 {
		now := q.now()
		var got []byte
		err = q.row(ctx, `INSERT INTO idempotency_keys (workspace_id, key, request_hash, status, created_at) VALUES (?, ?, ?, 0, ?)
			ON CONFLICT (workspace_id, key) DO UPDATE SET request_hash = excluded.request_hash, status = 0, response = NULL,
			created_at = excluded.created_at
			WHERE idempotency_keys.created_at < ? OR (idempotency_keys.status = 0 AND idempotency_keys.created_at < ?)
			RETURNING request_hash`,
			workspaceID, key, hash, ms(now), ms(now.Add(-ttl)), ms(now.Add(-abandonAfter))).Scan(&got)
		if err == nil && bytes.Equal(got, hash) {
			return true, nil, nil
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return false, nil, fmt.Errorf("claim idempotency key: %w", err)
		}
		var p Idempotency
		err = q.row(ctx, "SELECT request_hash, status, response FROM idempotency_keys WHERE workspace_id = ? AND key = ?", workspaceID, key).
			Scan(&p.RequestHash, &p.Status, &p.Response)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return false, nil, fmt.Errorf("read idempotency key: %w", err)
		}
		return false, &p, nil
	}
	// Released every time we looked: as good as in progress.
	return false, &Idempotency{RequestHash: hash}, nil
}

// FinishIdempotencyKey stores the answer of the request that claimed key.
func (q *Q) FinishIdempotencyKey(ctx context.Context, workspaceID int64, key string, status int, response []byte) error {
	if _, err := q.exec(ctx, "UPDATE idempotency_keys SET status = ?, response = ? WHERE workspace_id = ? AND key = ?",
		status, response, workspaceID, key); err != nil {
		return fmt.Errorf("store idempotent answer: %w", err)
	}
	return nil
}

// ReleaseIdempotencyKey forgets key, after a request that failed in a way
// worth retrying.
func (q *Q) ReleaseIdempotencyKey(ctx context.Context, workspaceID int64, key string) error {
	if _, err := q.exec(ctx, "DELETE FROM idempotency_keys WHERE workspace_id = ? AND key = ?", workspaceID, key); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}
