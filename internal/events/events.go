// Package events is the one recorder of domain events: every change worth
// an audit entry is recorded here, inside the change's transaction, and
// handed to what follows from it (today the security notices by mail; the
// notification centre plugs in the same way). Domain services never write
// the audit log or a notice mail themselves.
package events

import (
	"context"
	"fmt"
	"time"

	"roster/internal/core"
	"roster/internal/mail"
	"roster/internal/store"
)

// Follower acts on a recorded event inside the same transaction: what it
// writes commits or rolls back with the change.
type Follower interface {
	Follow(ctx context.Context, q *store.Q, e *core.Event) error
}

// Recorder records events and hands them to its followers in order.
type Recorder struct {
	followers []Follower
}

// New returns a recorder that hands every event to followers.
func New(followers ...Follower) *Recorder {
	return &Recorder{followers: followers}
}

// Record writes e's audit entry through q and hands e to every follower.
// A notice needs q to be a transaction, so that it cannot go out for a
// change that then rolls back.
func (r *Recorder) Record(ctx context.Context, q *store.Q, e core.Event) error {
	if e.Notice != "" && (e.Recipient == nil || q.Tx == nil) {
		return fmt.Errorf("record %s: notice %s needs its recipient and a transaction", e.Action, e.Notice)
	}
	entry := &core.AuditEntry{WorkspaceID: e.WorkspaceID, ActorID: e.ActorID, TargetID: e.TargetID, Action: e.Action, Detail: e.Detail, IP: e.IP}
	if err := q.Audit(ctx, entry); err != nil {
		return fmt.Errorf("record %s: %w", e.Action, err)
	}
	e.At = entry.CreatedAt
	for _, f := range r.followers {
		if err := f.Follow(ctx, q, &e); err != nil {
			return fmt.Errorf("record %s: %w", e.Action, err)
		}
	}
	return nil
}

// noticeMails names the mail template of each security notice.
// NoticeEmailChanged is not here: its mail to the old address carries the
// one-time undo link, and one-time links and codes stay transactional
// mail that package profile sends itself.
var noticeMails = map[core.Notice]string{
	core.NoticePasswordChanged:      "password_changed",
	core.NoticeEmailChangeRequested: "email_change_notice",
	core.NoticeTwoFactorEnabled:     "two_factor_enabled",
	core.NoticeTwoFactorDisabled:    "two_factor_disabled",
	core.NoticeTwoFactorReset:       "two_factor_reset",
	core.NoticeNewDevice:            "new_device",
}

// NoticeMail mails the security notice of an event to its recipient, in
// their language.
type NoticeMail struct {
	Mail mail.Enqueuer
}

var _ Follower = NoticeMail{}

// Follow implements Follower.
func (m NoticeMail) Follow(ctx context.Context, q *store.Q, e *core.Event) error {
	tpl, ok := noticeMails[e.Notice]
	if !ok {
		return nil
	}
	u := e.Recipient
	data := map[string]any{"Name": u.Name}
	switch e.Notice {
	case core.NoticeEmailChangeRequested:
		data["OldEmail"], data["NewEmail"] = u.Email, e.Detail
	case core.NoticeTwoFactorEnabled:
		data["Method"] = e.Detail
	case core.NoticeTwoFactorDisabled:
		data["Method"], data["AllOff"] = e.Detail, !u.TwoFactorEnabled
	case core.NoticeTwoFactorReset:
		data["AdminName"] = e.ActorName
	case core.NoticeNewDevice:
		data["Device"], data["IP"], data["Time"] = e.Device, e.IP, localTime(e.At, u.Timezone)
	}
	if err := m.Mail.EnqueueTx(ctx, q.Tx, e.WorkspaceID, u.Email, u.Language, tpl, data); err != nil {
		return fmt.Errorf("mail %s: %w", tpl, err)
	}
	return nil
}

// localTime shows t in the user's time zone, UTC when it is unknown.
func localTime(t time.Time, zone string) string {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}
