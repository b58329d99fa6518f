package core

import "time"

// PushSubscription is a browser subscribed to Web Push notifications for
// one person: its push service endpoint and keys, stored sealed.
type PushSubscription struct {
	ID          int64
	WorkspaceID int64
	UserID      int64
	// Browser and OS are proper names read from the User-Agent at
	// subscription ("Chrome", "Firefox", ...; "Windows", "Android", ...),
	// "" when unknown. They are not translated; the UI composes them.
	Browser string
	OS      string
	// Endpoint, P256dh and Auth are in clear only when the subscription
	// was opened (the adapter, while sending). The endpoint is a
	// capability URL: anyone holding it can push to the browser.
	Endpoint string
	P256dh   []byte // the browser's P-256 public key, 65 bytes uncompressed
	Auth     []byte // the 16-byte authentication secret
	// EndpointHash is a keyed MAC of the endpoint (unique), Sealed the
	// sealed endpoint and keys.
	EndpointHash []byte
	Sealed       []byte
	CreatedAt    time.Time
	SubscribedAt time.Time // the last time the browser subscribed with this endpoint
	// SessionID is the web session that subscribed (0: an API token); the
	// subscription ends with the session.
	SessionID  int64
	LastUsedAt time.Time // the last push the service accepted; zero for none
}
