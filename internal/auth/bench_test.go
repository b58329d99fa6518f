package auth_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"roster/internal/auth"
	"roster/internal/core"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// BenchmarkAuthenticate measures resolving a session token, the work every
// signed-in request does: go test -run '^$' -bench Authenticate ./internal/auth/
func BenchmarkAuthenticate(b *testing.B) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, engine := range []store.Engine{store.SQLite, store.Postgres} {
		b.Run(string(engine), func(b *testing.B) {
			db := storetest.Open(b, engine)
			svc := newEnv(b, db, auth.Config{})
			ctx := context.Background()
			hash, _ := svc.Hasher.Hash(ctx, "tangerine-violin")
			err := db.InTx(ctx, func(q *store.Q) error {
				ws := &core.Workspace{Name: "Acme", Timezone: "UTC", Language: "en"}
				if err := q.CreateWorkspace(ctx, ws); err != nil {
					return err
				}
				return q.CreateUser(ctx, &core.User{WorkspaceID: ws.ID, Name: "A", Email: "a@example.com", PasswordHash: hash,
					Role: core.RoleAdmin, State: core.StateActive, Language: "en", Timezone: "UTC"})
			})
			if err != nil {
				b.Fatal(err)
			}
			res, err := svc.login(ctx, auth.LoginInput{Email: "a@example.com", Password: "tangerine-violin"})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := svc.Authenticate(ctx, res.Token, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHash measures one argon2id password hash (19 MiB, 2 passes).
func BenchmarkHash(b *testing.B) {
	h := auth.NewHasher(1)
	for b.Loop() {
		if _, err := h.Hash(context.Background(), "tangerine-violin"); err != nil {
			b.Fatal(err)
		}
	}
}
