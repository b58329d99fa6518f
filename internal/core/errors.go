// Package core holds Roster's domain types and coded errors. Every other
// package depends on it; it depends on nothing of Roster's.
package core

import (
	"errors"
	"fmt"
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
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// AsError returns the coded error inside err, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// Invalid collects field errors; Err returns nil when there are none.
type Invalid struct{ Fields []FieldError }

// Add records that field is invalid with the message key and data.
func (v *Invalid) Add(field, key string, data map[string]any) {
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
