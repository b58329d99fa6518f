package notify

import (
	"context"
	"time"
)

// DeliverForTest runs one delivery attempt as the job does.
func DeliverForTest(ctx context.Context, s *Service, id int64) error { return s.deliver(ctx, id) }

// SetClockForTest moves the service's clock.
func SetClockForTest(s *Service, now func() time.Time) { s.now = now }
