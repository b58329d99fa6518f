package notify

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"roster/internal/core"
	"roster/internal/store"
)

// The delivery log: people see where each of their notifications went
// and why not; admins see the workspace's, by person, channel and
// status with the last error, and send a failed one again.

// DeliveryFilter narrows the delivery log (see store.DeliveryFilter).
type DeliveryFilter = store.DeliveryFilter

// LoggedDelivery is a delivery with its person's name and its
// notification's type and title.
type LoggedDelivery = store.LoggedDelivery

// ErrNotRetryable refuses to retry a delivery that has not failed.
var ErrNotRetryable = core.Errorf(core.ECONFLICT, "errors.notify.not_retryable")

// DeliveryLog lists the viewer's workspace's deliveries matching f,
// newest first (admins only).
func (s *Service) DeliveryLog(ctx context.Context, viewer *core.User, f DeliveryFilter, limit int) ([]*LoggedDelivery, error) {
	if viewer.Role != core.RoleAdmin {
		return nil, core.ErrForbidden
	}
	if f.Channel != "" {
		if _, ok := ChannelOf(f.Channel); !ok {
			return nil, fieldError("channel", "errors.notify.unknown_channel", map[string]any{"Channel": f.Channel})
		}
	}
	switch f.Status {
	case "", core.DeliveryQueued, core.DeliverySent, core.DeliveryFailed, core.DeliverySkipped:
	default:
		return nil, fieldError("status", "errors.notify.unknown_status", nil)
	}
	if f.UserID > 0 {
		if _, err := s.db.Reader().UserInWorkspace(ctx, viewer.WorkspaceID, f.UserID); err != nil {
			return nil, err
		}
	}
	return s.db.Reader().WorkspaceDeliveries(ctx, viewer.WorkspaceID, f, limit)
}

func fieldError(field, key string, data map[string]any) error {
	var v core.Invalid
	v.Add(field, key, data)
	return v.Err()
}

// DeliveriesOf returns, for each of the viewer's notifications ns, its
// deliveries by channel (the centre's own is not a delivery).
func (s *Service) DeliveriesOf(ctx context.Context, viewer *core.User, ns []*core.Notification) (map[int64][]*core.Delivery, error) {
	events := make([]int64, 0, len(ns))
	byEvent := map[int64]int64{}
	for _, n := range ns {
		if n.UserID != viewer.ID {
			return nil, core.ErrNotFound
		}
		events = append(events, n.EventID)
		byEvent[n.EventID] = n.ID
	}
	ds, err := s.db.Reader().DeliveriesOfEvents(ctx, viewer.ID, events)
	if err != nil {
		return nil, err
	}
	out := make(map[int64][]*core.Delivery, len(ns))
	for _, d := range ds {
		out[byEvent[d.EventID]] = append(out[byEvent[d.EventID]], d)
	}
	// In the channels' order: ids do not give it (a fan-out stores the
	// skipped deliveries before the queued ones).
	for _, list := range out {
		slices.SortStableFunc(list, func(a, b *core.Delivery) int {
			return cmp.Compare(channelPlace(a.Channel), channelPlace(b.Channel))
		})
	}
	return out, nil
}

// channelPlace is ch's place in Channels (unknown ones last).
func channelPlace(ch string) int {
	if i := slices.Index(Channels, Channel(ch)); i >= 0 {
		return i
	}
	return len(Channels)
}

// NotificationDeliveries returns the deliveries of the viewer's
// notification id.
func (s *Service) NotificationDeliveries(ctx context.Context, viewer *core.User, id int64) ([]*core.Delivery, error) {
	n, err := s.db.Reader().Notification(ctx, viewer.ID, id)
	if err != nil {
		return nil, err
	}
	m, err := s.DeliveriesOf(ctx, viewer, []*core.Notification{n})
	if err != nil {
		return nil, err
	}
	return m[n.ID], nil
}

// RetryDelivery sends a failed delivery of the viewer's workspace again
// (admins only): it is queued with a fresh retry window and its job is
// enqueued in the same transaction.
func (s *Service) RetryDelivery(ctx context.Context, viewer *core.User, id int64) (*core.Delivery, error) {
	if viewer.Role != core.RoleAdmin {
		return nil, core.ErrForbidden
	}
	err := s.db.InTx(ctx, func(q *store.Q) error {
		if _, err := q.DeliveryInWorkspace(ctx, viewer.WorkspaceID, id); err != nil {
			return err
		}
		ok, err := q.RequeueDelivery(ctx, viewer.WorkspaceID, id)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotRetryable
		}
		return s.jobs.InsertTx(ctx, q.Tx, DeliverArgs{DeliveryID: id}, nil)
	})
	if err != nil {
		return nil, fmt.Errorf("retry delivery: %w", err)
	}
	return s.db.Reader().DeliveryInWorkspace(ctx, viewer.WorkspaceID, id)
}
