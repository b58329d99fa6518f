// Package core holds Roster's domain types and coded errors. Every other
// package depends on it; it depends on nothing of Roster's.
package core

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"syscall"
	"time"
)

// Code classifies a domain error. The web and API layers map codes to HTTP
// statuses in one place each, so rules never pick a status themselves.
type Code string

// Error codes.
const (
	EINVALID      Code = "invalid"      // input failed validation; see Fields
	ENOTFOUND     Code = "not_found"    // does not exist, or belongs to another workspace
	EFORBIDDEN    Code = "forbidden"    // signed in but not allowed
	EUNAUTHORIZED Code = "unauthorized" // not signed in, or bad credentials
	ECONFLICT     Code = "conflict"     // the current state forbids it
	ETOOMANY      Code = "too_many"     // throttled; see RetryAfter
	EUNAVAILABLE  Code = "unavailable"  // busy for now; try again after RetryAfter
	EINTERNAL     Code = "internal"     // a bug or an outage
)

// FieldError is one invalid field. Key is a translation key; Data fills it.
type FieldError struct {
	Field string
	Key   string
	Data  map[string]any
}

// Error is a domain error: a code, a translation key for the message shown
// to people, and details for the cases that need them.
type Error struct {
	Code       Code
	Key        string         // translation key of the user-facing message
	Data       map[string]any // template data for Key
	Fields     []FieldError   // for EINVALID
	RetryAfter time.Duration  // for ETOOMANY and EUNAVAILABLE
	Err        error          // underlying cause, for logs only
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Key, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Key)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns a coded error with a translation key.
func Errorf(code Code, key string) *Error { return &Error{Code: code, Key: key} }

// ErrorCode returns the code of err, EINTERNAL for uncoded errors and "" for nil.
// An uncoded error of the database being out of reach is EUNAVAILABLE.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if Unreachable(err) || StorageRefused(err) {
		return EUNAVAILABLE
	}
	return EINTERNAL
}

// AsError returns the coded error inside err, or nil. An uncoded error of
// the database being out of reach is ErrUnavailable (with err inside, for
// the log).
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case Unreachable(err):
		u := *ErrUnavailable
		u.Err = err
		return &u
	case StorageRefused(err):
		u := *ErrStorage
		u.Err = err
		return &u
	}
	return nil
}

// ErrStorage answers a change the database could not store: its disk is
// full, or its file read-only. The transaction was rolled back, nothing
// changed; reads still work (503 with Retry-After).
var ErrStorage = &Error{Code: EUNAVAILABLE, Key: "errors.storage", RetryAfter: time.Minute}

// StorageRefused says whether err is the database refusing to write:
// SQLite's SQLITE_FULL, SQLITE_READONLY or SQLITE_IOERR (read through the
// Code method of its driver's errors), PostgreSQL's disk full (53100) or
// read-only transaction (25006).
func StorageRefused(err error) bool {
	if err == nil {
		return false
	}
	var coded interface{ Code() int }
	if errors.As(err, &coded) && sqliteError(coded) {
		switch coded.Code() & 0xff {
		case 8, 10, 13: // SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL
			return true
		}
	}
	var state interface{ SQLState() string }
	if errors.As(err, &state) {
		s := state.SQLState()
		return s == "53100" || s == "25006"
	}
	return false
}

// ErrUnavailable answers a request the database could not take: it was
// restarted, or the network to it cut. Nothing acknowledged is lost, and
// the request may be tried again (503 with Retry-After).
var ErrUnavailable = &Error{Code: EUNAVAILABLE, Key: "errors.unavailable", RetryAfter: 5 * time.Second}

// Unreachable says whether err is a peer (the database) out of reach
// rather than a bug: a refused, reset or cut connection, a closed pool
// connection, or PostgreSQL's connection-exception and shutdown states
// (08xxx, 57P01-57P03), read through the SQLState method its driver's
// errors have.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	var state interface{ SQLState() string }
	var retry interface{ SafeToRetry() bool }
	switch {
	case errors.As(err, &ne), errors.Is(err, driver.ErrBadConn), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	case errors.As(err, &state):
		s := state.SQLState()
		return strings.HasPrefix(s, "08") || s == "57P01" || s == "57P02" || s == "57P03"
	case errors.As(err, &retry):
		return retry.SafeToRetry()
	}
	return false
}

// Invalid collects field errors; Err returns nil when there are none.
type Invalid struct{ Fields []FieldError }

// MaxFieldErrors is the most field errors one answer holds: 10,000 bad
// entries must not be answered with 10,000 messages (an amplifier). The
// ones kept are enough to show what is wrong.
const MaxFieldErrors = 50

// Add records that field is invalid with the message key and data, up to
// MaxFieldErrors; beyond that the input is invalid all the same.
func (v *Invalid) Add(field, key string, data map[string]any) {
	if len(v.Fields) >= MaxFieldErrors {
		return
	}
	v.Fields = append(v.Fields, FieldError{Field: field, Key: key, Data: data})
}

// Has reports whether field already has an error.
func (v *Invalid) Has(field string) bool {
	for _, f := range v.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// Err returns an EINVALID error, or nil when nothing was added.
func (v *Invalid) Err() error {
	if len(v.Fields) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Key: "errors.invalid", Fields: v.Fields}
}

// Common errors.
var (
	ErrNotFound     = Errorf(ENOTFOUND, "errors.not_found")
	ErrForbidden    = Errorf(EFORBIDDEN, "errors.forbidden")
	ErrUnauthorized = Errorf(EUNAUTHORIZED, "errors.unauthorized")
)

// sqliteError says whether e is the SQLite driver's error (modernc's
// *sqlite.Error), not another library's with a Code method (an SMTP
// reply's 520 would read as SQLITE_READONLY). core imports no driver.
func sqliteError(e any) bool {
	t := reflect.TypeOf(e)
	return t.Kind() == reflect.Pointer && t.Elem().Name() == "Error" && t.Elem().PkgPath() == "modernc.org/sqlite" || sqliteLike(e)
}

// sqliteLike lets tests stand in for the driver's error.
var sqliteLike = func(any) bool { return false }
