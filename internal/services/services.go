// Package services builds Roster's domain services, once, in one place:
// `roster serve`, the command line and every test that needs more than
// one service get the same set wired the same way, so no test runs on a
// wiring that production does not have.
package services

import (
	"context"

	"time"

	"github.com/riverqueue/river"

	"roster/internal/account"
	"roster/internal/auth"
	"roster/internal/events"
	"roster/internal/mail"
	"roster/internal/notify"
	"roster/internal/notify/mobile"
	"roster/internal/notify/webpush"
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
	// Jobs is the durable job queue; Workers its worker registry, where
	// the services register their jobs (before the queue starts).
	Jobs    notify.Jobs
	Workers *river.Workers
	// Texts renders notifications in a person's language.
	Texts func(lang string) notify.Translator
	// Live tells open notification streams about changes; nil for none.
	Live notify.Publisher
	// Channels are the delivery channels other than the in-app centre.
	Channels []notify.Adapter
	// Notify tunes the notification engine (retention, retries).
	Notify NotifyConfig
	// Followers act on every recorded event after the security notices
	// are mailed and made notifications.
	Followers []Follower
	// Digests mails daily digests (the email channel); nil: none.
	Digests notify.DigestSender
}

// NotifyConfig tunes the notification engine; zero fields keep the
// defaults of package notify.
type NotifyConfig struct {
	Retention           time.Duration
	RetryFor            time.Duration
	RetryBase, RetryCap time.Duration
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
	Notify   *notify.Service
	Devices  *mobile.Devices        // the mobile app's devices (push notifications)
	Push     *webpush.Subscriptions // the browsers subscribed to push notifications
}

// Close writes what the services keep to write in batches (the sign-in
// records of use); call it before the database closes.
func (s *Set) Close(ctx context.Context) error { return s.Auth.Close(ctx) }

// New builds the set.
func New(c Config) *Set {
	followers := []events.Follower{events.NoticeMail{Mail: c.Mail}, notify.Notices{Jobs: c.Jobs}}
	rec := events.New(append(followers, c.Followers...)...)
	s := &Set{Events: rec}
	s.Notify = notify.New(notify.Config{DB: c.DB, Jobs: c.Jobs, Events: rec, Texts: c.Texts, Live: c.Live, Adapters: c.Channels,
		Retention: c.Notify.Retention, RetryFor: c.Notify.RetryFor,
		RetryBase: c.Notify.RetryBase, RetryCap: c.Notify.RetryCap, MAC: c.Secrets.MAC, Digests: c.Digests})
	if c.Workers != nil {
		if err := s.Notify.Workers(c.Workers); err != nil {
			panic(err) // a job kind registered twice: a wiring bug
		}
	}
	s.Devices = mobile.NewDevices(c.DB, c.Secrets)
	s.Push = webpush.NewSubscriptions(c.DB, c.Secrets)
	s.Auth = auth.NewService(c.DB, c.Auth, rec)
	s.Accounts = account.NewService(c.DB, s.Auth, c.Mail, rec, c.BaseURL)
	s.Security = security.NewService(c.DB, s.Auth, c.Secrets, c.Mail, rec)
	s.Profiles = profile.NewService(profile.Config{DB: c.DB, Auth: s.Auth, Accounts: s.Accounts, Mail: c.Mail, Events: rec,
		Photos: c.Photos, BaseURL: c.BaseURL, RecentSignIn: c.RecentSignIn, ZoneChanged: s.Notify.ZoneChanged})
	if c.Workers != nil {
		if err := s.Profiles.Workers(c.Workers); err != nil {
			panic(err) // a job kind registered twice: a wiring bug
		}
	}
	return s
}
