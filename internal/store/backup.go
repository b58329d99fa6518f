package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// SQLiteFile is the database's file name in the data folder.
const SQLiteFile = "roster.db"

// ErrBackupPostgres is Backup's answer on PostgreSQL, whose own tools make
// a consistent copy of a running database.
var ErrBackupPostgres = errors.New("on PostgreSQL, back up with pg_dump: pg_dump -Fc -d \"$ROSTER_DATABASE_URL\" -f roster.dump (and pg_restore --clean --if-exists -d <url> roster.dump to restore; see README)")

// Backup writes a copy of the SQLite database to path, which must not
// exist, while Roster keeps running. VACUUM INTO reads one snapshot on a
// read connection: writers go on (WAL), and the copy holds every
// transaction committed before it began and none after. The copy is
// checked before Backup returns; it reports the copy's size.
func (db *DB) Backup(ctx context.Context, path string) (int64, error) {
	if db.Engine != SQLite {
		return 0, ErrBackupPostgres
	}
	if _, err := os.Stat(path); err == nil {
		return 0, fmt.Errorf("backup: %s already exists; give a new file", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("backup: %w", err)
	}
	if _, err := db.R.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		os.Remove(path) // a partial copy is no backup
		return 0, fmt.Errorf("backup: copy the database: %w", err)
	}
	if err := CheckBackup(ctx, path); err != nil {
		return 0, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	return st.Size(), nil
}

// CheckBackup opens the SQLite file at path read-only and checks that it
// is whole (integrity_check) and that its schema is not newer than this
// Roster knows.
func CheckBackup(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("backup %s: %w", path, err)
	}
	c, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return fmt.Errorf("backup %s: %w", path, err)
	}
	defer c.Close()
	var check string
	if err := c.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil {
		return fmt.Errorf("backup %s is not a SQLite database: %w", path, err)
	}
	if check != "ok" {
		return fmt.Errorf("backup %s is damaged: %s", path, check)
	}
	var version sql.NullInt64
	if err := c.QueryRowContext(ctx, "SELECT MAX(version_id) FROM goose_db_version").Scan(&version); err != nil {
		return fmt.Errorf("backup %s is not a Roster database: %w", path, err)
	}
	latest, err := latestMigration("migrations/sqlite")
	if err != nil {
		return err
	}
	if version.Int64 > latest {
		return fmt.Errorf("backup %s has schema version %d, newer than this Roster knows (%d): restore it with the Roster that made it", path, version.Int64, latest)
	}
	return nil
}

// Restore copies the SQLite backup at from into dataDir as its database.
// It never overwrites: a data folder that holds a database already is
// refused. Roster migrates an older backup forward when it starts on it.
func Restore(ctx context.Context, from, dataDir string) error {
	target := filepath.Join(dataDir, SQLiteFile)
	for _, p := range []string{target, target + "-wal", target + "-shm"} {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("restore: %s already holds a database; restore into a new data folder", dataDir)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restore: %w", err)
		}
	}
	if err := CheckBackup(ctx, from); err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// Copied beside the target and renamed, so a failure leaves no
	// half-written database for `serve` to start on.
	tmp := target + ".restoring"
	if err := copyFile(from, tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore: %w", err)
	}
	if err := os.Rename(tmp, target); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// latestMigration is the highest version among the embedded migrations
// in dir ("00015_web_push.sql" is 15).
func latestMigration(dir string) (int64, error) {
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	var latest int64
	for _, e := range entries {
		n, _, ok := strings.Cut(path.Base(e.Name()), "_")
		if v, err := strconv.ParseInt(n, 10, 64); ok && err == nil && v > latest {
			latest = v
		}
	}
	return latest, nil
}
