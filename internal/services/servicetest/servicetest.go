// Package servicetest builds the domain services for a test exactly as
// services.New builds them for `roster serve`, filling in what a test
// rarely cares about: a secret key in a temporary folder, photos in
// memory and a base URL.
package servicetest

import (
	"context"
	"testing"

	"github.com/riverqueue/river"

	"roster/internal/i18n"
	"roster/internal/jobs"
	"roster/internal/notify"
	"roster/internal/photo"
	"roster/internal/secrets"
	"roster/internal/services"
	"roster/internal/store"
)

// New returns services.New(c) with c.Secrets, c.Photos, c.BaseURL,
// c.Texts and the job queue filled in when empty. c.DB and c.Mail must be
// set. The queue is real but not started: a test runs jobs with Queue and
// Start, or calls the work functions (notify.Service.Fanout) itself.
func New(t testing.TB, c services.Config) *services.Set {
	t.Helper()
	if c.DB == nil || c.Mail == nil {
		t.Fatal("servicetest.New: Config.DB and Config.Mail are required")
	}
	if c.Secrets == nil {
		box, err := secrets.Load("", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		c.Secrets = box
	}
	if c.Photos == nil {
		photos, err := photo.OpenStore(context.Background(), "mem://", "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = photos.Close() })
		c.Photos = photos
	}
	if c.BaseURL == "" {
		c.BaseURL = "https://roster.example"
	}
	if c.Texts == nil {
		bundle, err := i18n.New()
		if err != nil {
			t.Fatal(err)
		}
		c.Texts = func(lang string) notify.Translator { return bundle.Localizer(lang) }
	}
	if c.Jobs == nil {
		q, w := Queue(t, c.DB)
		c.Jobs, c.Workers = q, w
	}
	set := services.New(c)
	// Before the database closes (cleanups run last first).
	t.Cleanup(func() {
		if err := set.Close(context.Background()); err != nil {
			t.Errorf("close services: %v", err)
		}
	})
	return set
}

// Queue returns an unstarted job queue on db (River's tables migrated)
// and its worker registry, for services.Config.
func Queue(t testing.TB, db *store.DB) (*jobs.Queue, *river.Workers) {
	t.Helper()
	if err := jobs.Migrate(context.Background(), jobs.Engine(db.Engine), db.W); err != nil {
		t.Fatal(err)
	}
	w := river.NewWorkers()
	q, err := jobs.New(jobs.Config{Engine: jobs.Engine(db.Engine), DB: db.W, Workers: w})
	if err != nil {
		t.Fatal(err)
	}
	return q, w
}
