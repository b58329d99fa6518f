// Package services builds Roster's domain services, once, in one place:
// `roster serve`, the command line and every test that needs more than
// one service get the same set wired the same way, so no test runs on a
// wiring that production does not have.
package services

import (
	"time"

	"roster/internal/account"
	"roster/internal/auth"
	"roster/internal/events"
	"roster/internal/mail"
	"roster/internal/photo"
	"roster/internal/profile"
	"roster/internal/secrets"
	"roster/internal/security"
	"roster/internal/store"
)

// Config is what the services are built from.
type Config struct {
	DB           *store.DB
	Mail         mail.Enqueuer // the mail queue (tests: a recorder that renders every mail)
	Secrets      *secrets.Box
	Photos       *photo.Store
	BaseURL      string        // for links in mail
	Auth         auth.Config   // sign-in tuning
	RecentSignIn time.Duration // see profile.Config
	// Followers act on every recorded event after the security notices
	// are mailed (the notification centre plugs in here).
	Followers []Follower
}

// Follower acts on every recorded event (see events.Follower).
type Follower = events.Follower

// Set is the domain services of one Roster.
type Set struct {
	Events   *events.Recorder
	Auth     *auth.Service
	Accounts *account.Service
	Profiles *profile.Service
	Security *security.Service
}

// New builds the set.
func New(c Config) *Set {
	rec := events.New(append([]events.Follower{events.NoticeMail{Mail: c.Mail}}, c.Followers...)...)
	s := &Set{Events: rec}
	s.Auth = auth.NewService(c.DB, c.Auth, rec)
	s.Accounts = account.NewService(c.DB, s.Auth, c.Mail, rec, c.BaseURL)
	s.Security = security.NewService(c.DB, s.Auth, c.Secrets, c.Mail, rec)
	s.Profiles = profile.NewService(profile.Config{DB: c.DB, Auth: s.Auth, Accounts: s.Accounts, Mail: c.Mail, Events: rec,
		Photos: c.Photos, BaseURL: c.BaseURL, RecentSignIn: c.RecentSignIn})
	return s
}
