// Package servicetest builds the domain services for a test exactly as
// services.New builds them for `roster serve`, filling in what a test
// rarely cares about: a secret key in a temporary folder, photos in
// memory and a base URL.
package servicetest

import (
	"context"
	"testing"

	"roster/internal/photo"
	"roster/internal/secrets"
	"roster/internal/services"
)

// New returns services.New(c) with c.Secrets, c.Photos and c.BaseURL
// filled in when empty. c.DB and c.Mail must be set.
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
	return services.New(c)
}
