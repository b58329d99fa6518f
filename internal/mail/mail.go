// Package mail sends Roster's outgoing email.
//
// All mail goes through one Sender: SMTP in production, DevOutbox when no
// SMTP server is configured. Mail is not sent inline from request handlers
// but enqueued as a durable job (SendArgs) in the same transaction as the
// change that caused it, and delivered by SendWorker with retries.
// Message bodies are rendered from embedded templates in the recipient's
// language (Render).
package mail

import (
	"context"
	"errors"

	gomail "github.com/wneessen/go-mail"
)

// Message is one outgoing email to one recipient. It is stored in job
// args, hence the JSON tags.
type Message struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`           // plain-text part
	HTML    string `json:"html,omitempty"` // HTML part
	Lang    string `json:"lang,omitempty"` // recipient language, sets Content-Language
	// Template names the kind of mail ("invite"), for logs: subjects and
	// bodies may hold codes and links, so they are never logged.
	Template string `json:"template,omitempty"`
	// WorkspaceID is the workspace of the recipient (or invitee): the dev
	// outbox shows a mail only to that workspace's admins.
	WorkspaceID int64 `json:"workspace_id,omitempty"`
	// Headers are extra header fields, e.g. List-Unsubscribe.
	Headers map[string]string `json:"headers,omitempty"`
	// MessageID, when set, is the Message-ID (without angle brackets);
	// otherwise a random one is made. A mail that may be sent again for
	// the same reason (a delivery whose send was not yet recorded when
	// the process died) keeps one, so the copies are one message to the
	// systems that receive them.
	MessageID string `json:"message_id,omitempty"`
}

// Sender delivers a Message.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// PermanentError marks a failure that retrying cannot fix, such as a
// rejected recipient or a malformed address.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// permanent wraps err as a PermanentError.
func permanent(err error) error { return &PermanentError{Err: err} }

// IsPermanent reports whether err is a permanent delivery failure: an SMTP
// 5xx reply to the mail transaction (mailbox unavailable, invalid
// recipient, message rejected) or a message that cannot be built. Network
// errors and 4xx replies are temporary and worth retrying.
//
// Failures while connecting or authenticating count as temporary even on a
// 5xx reply: they point at the server or our configuration, not at this
// message, and giving up would lose the mail while an operator fixes it.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	var pe *PermanentError
	if errors.As(err, &pe) {
		return true
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		switch se.Reason {
		case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
			return true
		}
		code := se.ErrorCode()
		return code >= 500 && code < 600
	}
	return false
}
