package core

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
)

type sqlState string

func (s sqlState) Error() string    { return "pg: " + string(s) }
func (s sqlState) SQLState() string { return string(s) }

// TestUnreachable: the database out of reach (a refused or cut
// connection, a bad pooled one, PostgreSQL's connection and shutdown
// states) is EUNAVAILABLE and ErrUnavailable; every other uncoded error
// stays internal, and a coded one keeps its code.
func TestUnreachable(t *testing.T) {
	for _, err := range []error{
		&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED},
		fmt.Errorf("read user: %w", io.ErrUnexpectedEOF),
		driver.ErrBadConn, syscall.ECONNRESET,
		fmt.Errorf("update: %w", sqlState("57P01")), sqlState("08006"), sqlState("57P03"),
	} {
		if ErrorCode(err) != EUNAVAILABLE || AsError(err) == nil || AsError(err).Key != ErrUnavailable.Key || !errors.Is(AsError(err), err) {
			t.Errorf("%v: code %s, %+v", err, ErrorCode(err), AsError(err))
		}
	}
	for _, err := range []error{errors.New("boom"), sqlState("23505"), sqlState("40001"), io.EOF} {
		if ErrorCode(err) != EINTERNAL || AsError(err) != nil {
			t.Errorf("%v: code %s", err, ErrorCode(err))
		}
	}
	if ErrorCode(fmt.Errorf("x: %w", ErrForbidden)) != EFORBIDDEN {
		t.Error("a coded error lost its code")
	}
}

type sqliteCode int

func (c sqliteCode) Error() string { return fmt.Sprintf("sqlite: %d", int(c)) }
func (c sqliteCode) Code() int     { return int(c) }

// TestStorageRefused: SQLite's full, read-only and I/O errors (extended
// codes too) and PostgreSQL's disk full and read-only transaction are
// ErrStorage (503); a constraint violation is not.
func TestStorageRefused(t *testing.T) {
	sqliteLike = func(e any) bool { _, ok := e.(sqliteCode); return ok }
	defer func() { sqliteLike = func(any) bool { return false } }()
	if StorageRefused(smtpReply(520)) {
		t.Error("an SMTP reply's code read as SQLite's")
	}
	for _, err := range []error{sqliteCode(13), sqliteCode(8), sqliteCode(10), sqliteCode(8 | 3<<8), fmt.Errorf("insert: %w", sqliteCode(13)),
		sqlState("53100"), sqlState("25006")} {
		if ErrorCode(err) != EUNAVAILABLE || AsError(err) == nil || AsError(err).Key != ErrStorage.Key {
			t.Errorf("%v: code %s, %+v", err, ErrorCode(err), AsError(err))
		}
	}
	for _, err := range []error{sqliteCode(19), sqliteCode(5), sqlState("23505")} {
		if ErrorCode(err) != EINTERNAL {
			t.Errorf("%v: code %s", err, ErrorCode(err))
		}
	}
}

type smtpReply int

func (c smtpReply) Error() string { return fmt.Sprintf("smtp: %d", int(c)) }
func (c smtpReply) Code() int     { return int(c) }
