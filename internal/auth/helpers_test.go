package auth_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"

	"roster/internal/auth"
	"roster/internal/mail/mailtest"
	"roster/internal/services"
	"roster/internal/services/servicetest"
	"roster/internal/store"
)

type recordedMail struct {
	to, template string
	data         map[string]any
}

// mailRecorder is the tests' mail queue: it keeps what is sent and renders
// every mail through the real templates.
type mailRecorder struct {
	mu   sync.Mutex
	sent []recordedMail
}

func (m *mailRecorder) EnqueueTx(_ context.Context, _ *sql.Tx, _ int64, to, _, template string, data map[string]any) error {
	m.mu.Lock()
	m.sent = append(m.sent, recordedMail{to, template, data})
	m.mu.Unlock()
	return mailtest.Check(template, data)
}

// env is the sign-in service of a test, built with the other domain
// services as `roster serve` builds them.
type env struct {
	*auth.Service
	set  *services.Set
	mail *mailRecorder
}

// newEnv builds the services on db with cfg; mail goes to env.mail.
func newEnv(t testing.TB, db *store.DB, cfg auth.Config) *env {
	t.Helper()
	mail := &mailRecorder{}
	set := servicetest.New(t, services.Config{DB: db, Mail: mail, Auth: cfg})
	return &env{Service: set.Auth, set: set, mail: mail}
}

var errSecondStep = errors.New("sign-in wants a second step")

// login signs a user without two-step verification in through the one
// sign-in flow.
func (e *env) login(ctx context.Context, in auth.LoginInput) (*auth.LoginResult, error) {
	res, err := e.set.Security.SignIn(ctx, in)
	if err != nil {
		return nil, err
	}
	if res.Challenge != nil || res.LoginResult == nil {
		return nil, errSecondStep
	}
	return res.LoginResult, nil
}
