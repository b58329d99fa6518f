package notify

import (
	"context"
	"time"
)

// DeliverForTest runs one delivery attempt as the job does.
func DeliverForTest(ctx context.Context, s *Service, id int64) error { return s.deliver(ctx, id) }

// SetClockForTest moves the service's clock.
func SetClockForTest(s *Service, now func() time.Time) { s.now = now }

// SendDigestForTest runs one digest's send as its job does.
func SendDigestForTest(ctx context.Context, s *Service, userID int64, date string) error {
	return s.sendDigests(ctx, []DigestRef{{UserID: userID, Date: date}})
}

// SendDigestBatchForTest runs one digest job of refs.
func SendDigestBatchForTest(ctx context.Context, s *Service, refs []DigestRef) error {
	return s.sendDigests(ctx, refs)
}

// InlineFanout is how many recipients intake fans out itself.
const InlineFanout = inlineFanout
