package store

import "sort"

// WriterStatements returns the texts kept prepared on the SQLite writer.
func (db *DB) WriterStatements() []string {
	db.wStmts.mu.RLock()
	defer db.wStmts.mu.RUnlock()
	var out []string
	for q := range db.wStmts.m {
		out = append(out, q)
	}
	sort.Strings(out)
	return out
}

// Chunks is chunks, for tests.
func Chunks[T any](s []T, n int) func(yield func([]T) bool) { return chunks(s, n) }
