package core

import "time"

// Event is a change that happened: who did what, for whom, when and from
// where. Every change worth an audit entry is recorded as one, inside the
// change's own transaction (package events), and whatever follows from it
// (a security notice by mail, later a notification) is derived from it
// there, so nothing is recorded without its consequences or the reverse.
type Event struct {
	Action      AuditAction
	WorkspaceID int64
	ActorID     int64 // who; 0 when nobody signed in acted (a link holder, a failed sign-in)
	ActorName   string
	TargetID    int64 // for whom
	Detail      string
	IP          string    // from where
	Device      string    // from which browser or app, when known
	At          time.Time // when; set by the recorder
	// Notice names the security notice the change owes its target; ""
	// for none. Recipient is then the target as it is after the change.
	Notice    Notice
	Recipient *User
}

// Notice is a security notice: a message the target of a change gets
// whatever their settings say, because the change may not be theirs.
// The values are the notification type keys integrations see.
type Notice string

// Security notices.
const (
	NoticePasswordChanged      Notice = "security.password_changed"
	NoticeEmailChangeRequested Notice = "security.email_change_requested"
	NoticeEmailChanged         Notice = "security.email_changed"
	NoticeTwoFactorEnabled     Notice = "security.two_factor_enabled"
	NoticeTwoFactorDisabled    Notice = "security.two_factor_disabled"
	NoticeTwoFactorReset       Notice = "security.two_factor_reset"
	NoticeNewDevice            Notice = "security.new_device"
)
