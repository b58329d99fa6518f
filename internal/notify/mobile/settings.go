package mobile

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"roster/internal/notify/mobile/apns"
	"roster/internal/notify/mobile/fcm"
	"roster/internal/notify/mobile/push"
)

// Settings are the operator's choices (flags and ROSTER_* variables).
// FCM is on when FCMCredentials is set, APNs when APNsKey is; each is
// configured on its own.
type Settings struct {
	FCMCredentials string // path of the service account's JSON key file
	FCMEndpoint    string // base URL; fcm.DefaultEndpoint when empty

	APNsKey         string // path of the .p8 key file
	APNsKeyID       string
	APNsTeamID      string
	APNsTopic       string // the app's bundle id
	APNsEnvironment string // production (default) or sandbox
	APNsEndpoint    string // base URL; the environment's when empty

	// RootCAs, when set, are the only roots trusted for the push
	// services' certificates: tests trust their local servers here.
	RootCAs *x509.CertPool
}

// Open builds the channel the settings describe, on c (whose FCM and APNs
// it fills in); nil, nil when neither provider is configured, so the
// channel is shown as not configured and its deliveries are skipped.
func Open(s Settings, c Config) (*Channel, error) {
	httpc := push.ClientConfig{RootCAs: s.RootCAs}
	if s.FCMCredentials != "" {
		creds, err := os.ReadFile(s.FCMCredentials)
		if err != nil {
			return nil, fmt.Errorf("--fcm-credentials: %w", err)
		}
		client, err := fcm.New(fcm.Config{Credentials: creds, Endpoint: s.FCMEndpoint, HTTP: httpc})
		if err != nil {
			return nil, err
		}
		c.FCM = client
	}
	apnsSet := s.APNsKeyID != "" || s.APNsTeamID != "" || s.APNsTopic != "" || s.APNsEndpoint != ""
	switch {
	case s.APNsKey != "":
		key, err := os.ReadFile(s.APNsKey)
		if err != nil {
			return nil, fmt.Errorf("--apns-key: %w", err)
		}
		client, err := apns.New(apns.Config{Key: key, KeyID: s.APNsKeyID, TeamID: s.APNsTeamID, Topic: s.APNsTopic,
			Environment: s.APNsEnvironment, Endpoint: s.APNsEndpoint, HTTP: httpc})
		if err != nil {
			return nil, err
		}
		c.APNs = client
	case apnsSet:
		return nil, errors.New("--apns-key is required with --apns-key-id, --apns-team-id, --apns-topic or --apns-endpoint")
	}
	if c.FCM == nil && c.APNs == nil {
		return nil, nil
	}
	return New(c)
}
