package core

import "time"

// MobileDevice is an install of the mobile app that registered for push
// notifications: one token of one push service, on one person's account.
type MobileDevice struct {
	ID          int64
	WorkspaceID int64
	UserID      int64
	Platform    string // PlatformAndroid or PlatformIOS
	// Provider is the push service the token belongs to: ProviderFCM
	// for Android and for iOS apps that use FCM, ProviderAPNs for an iOS
	// app's own APNs device token.
	Provider string
	// Token is the push token in clear, filled in only when it was
	// opened; the database holds it sealed (TokenSealed) and keyed by
	// TokenHash.
	Token        string
	TokenHash    []byte
	TokenSealed  []byte
	AppVersion   string
	Locale       string // a supported language, or ""
	CreatedAt    time.Time
	RegisteredAt time.Time // the last registration of the token
	LastUsedAt   time.Time // the last push it took; zero for none
}

// Mobile platforms and push providers.
const (
	PlatformAndroid = "android"
	PlatformIOS     = "ios"
	ProviderFCM     = "fcm"
	ProviderAPNs    = "apns"
)
