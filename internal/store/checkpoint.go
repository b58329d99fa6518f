package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// SQLite's write-ahead log is copied back into the database file by a
// checkpoint. Left to SQLite, the commit that takes the log past 1,000
// pages runs it, on the one writer, with two fsyncs: every write queued
// behind that commit waits too. Roster checkpoints from a connection of
// its own instead, every checkpointEvery, beside the writer (a passive
// checkpoint copies what it can without waiting for anyone, and writers
// go on appending meanwhile). The writer still checkpoints itself past
// writerCheckpointPages, when the background falls behind under a long
// burst of writes. Neither can copy past a reader's older snapshot (a
// long backup): the log then grows until it ends, and once it restarts
// the file is cut back to walSizeLimit.
const (
	checkpointEvery       = 100 * time.Millisecond
	writerCheckpointPages = 4000     // about 16 MB of log with 4 kB pages
	walSizeLimit          = 64 << 20 // bytes
)

// checkpointer runs passive checkpoints until stopped.
type checkpointer struct {
	conn   *sql.DB
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

func startCheckpointer(path string) (*checkpointer, error) {
	// mode=rw: never create a database file that is not there.
	conn, err := sql.Open("sqlite", "file:"+path+"?mode=rw&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("open sqlite checkpointer: %w", err)
	}
	conn.SetMaxOpenConns(1)
	conn.SetConnMaxIdleTime(0)
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{conn: conn, cancel: cancel, done: make(chan struct{})}
	go c.run(ctx)
	return c, nil
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// An error (the file gone, the disk full) leaves the work to
		// the writer's own checkpoints; nothing is lost by skipping one.
		_, _ = c.conn.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
	}
}

// stop ends the loop and closes the connection.
func (c *checkpointer) stop() error {
	var err error
	c.once.Do(func() {
		c.cancel()
		<-c.done
		err = c.conn.Close()
	})
	return err
}
