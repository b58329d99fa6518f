package notify

import (
	"context"
	"fmt"
	"unicode/utf8"

	"roster/internal/core"
	"roster/internal/store"
)

// Notices follows the event recorder: every security notice Roster owes a
// person becomes a notification event, fanned out like any other (in the
// centre, and on each channel that reaches them, whatever their settings:
// security types are mandatory). It writes in the change's transaction.
type Notices struct {
	Jobs Jobs
}

// Follow implements events.Follower.
func (n Notices) Follow(ctx context.Context, q *store.Q, e *core.Event) error {
	if e.Notice == "" {
		return nil
	}
	t, ok := TypeOf(string(e.Notice))
	if !ok {
		return fmt.Errorf("notice %s is not in the notification catalogue", e.Notice)
	}
	u := e.Recipient
	data := map[string]any{"title": u.Email}
	switch e.Notice {
	case core.NoticeEmailChangeRequested:
		data["title"] = e.Detail // the address asked for
	case core.NoticeTwoFactorEnabled, core.NoticeTwoFactorDisabled:
		data["method"] = e.Detail
	case core.NoticeTwoFactorReset:
		data["title"] = e.ActorName
	case core.NoticeNewDevice:
		data["title"], data["ip"] = e.Device, e.IP
	}
	// A notice never fails its change for want of a detail, nor for one
	// too long for a title (addresses may have 254 characters).
	for k, v := range data {
		str, _ := v.(string)
		switch {
		case str == "":
			data[k] = "—"
		case utf8.RuneCountInString(str) > MaxTitle:
			data[k] = string([]rune(str)[:MaxTitle-1]) + "…"
		}
	}
	var v core.Invalid
	checkData(&v, "", t, data)
	if err := v.Err(); err != nil {
		return fmt.Errorf("notice %s: %w", e.Notice, err)
	}
	ev := &core.NotifyEvent{WorkspaceID: e.WorkspaceID, Type: t.Key, Data: data, Recipients: []int64{u.ID}, ActorID: e.ActorID, OccurredAt: e.At}
	if _, err := q.InsertNotifyEvent(ctx, ev); err != nil {
		return err
	}
	return n.Jobs.InsertTx(ctx, q.Tx, FanoutArgs{EventIDs: []int64{ev.ID}}, nil)
}
