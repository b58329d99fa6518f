package security

import (
	"bufio"
	"context"
	"io"
	"strconv"
	"strings"
	"time"

	"roster/internal/core"
	"roster/internal/store"
)

// AuditQuery selects workspace audit entries for admins.
type AuditQuery struct {
	UserID int64  // 0: everyone
	Type   string // an action ("two_factor.enabled") or a group ("two_factor."); "" for all
	Limit  int    // default 500, at most 10,000
}

// Audit returns the workspace's audit entries, newest first; admins only.
func (s *Service) Audit(ctx context.Context, actor *core.User, q AuditQuery) ([]*core.AuditEntry, error) {
	if !actor.IsAdmin() {
		return nil, core.ErrForbidden
	}
	if q.UserID != 0 {
		if _, err := s.db.Reader().UserInWorkspace(ctx, actor.WorkspaceID, q.UserID); err != nil {
			return nil, err
		}
	}
	if q.Limit <= 0 {
		q.Limit = 500
	}
	return s.db.Reader().WorkspaceAudit(ctx, store.AuditFilter{WorkspaceID: actor.WorkspaceID, TargetID: q.UserID, Action: q.Type, Limit: q.Limit})
}

// WriteAuditCSV writes entries as CSV with a header row; times in RFC 3339
// UTC. Every field is quoted, and a formula start is neutralised wherever a
// spreadsheet could begin a cell (see safeCell): CSV injection.
func WriteAuditCSV(w io.Writer, entries []*core.AuditEntry) error {
	bw := bufio.NewWriter(w)
	writeRow(bw, "id", "time", "action", "actor_id", "actor_name", "target_id", "detail", "ip")
	for _, e := range entries {
		// Every text cell is guarded, not only the ones people type: an IP
		// or action comes from a header or a future caller too.
		writeRow(bw, strconv.FormatInt(e.ID, 10), e.CreatedAt.UTC().Format(time.RFC3339), safeCell(string(e.Action)),
			strconv.FormatInt(e.ActorID, 10), safeCell(e.ActorName), strconv.FormatInt(e.TargetID, 10), safeCell(e.Detail), safeCell(e.IP))
	}
	return bw.Flush()
}

// writeRow writes one record with every field quoted. encoding/csv quotes
// only fields that need it for a comma reader; a spreadsheet whose list
// separator is ";" (es, pt-BR, ru, tr, id) splits an unquoted field at each
// ";", so nothing is left unquoted.
func writeRow(w *bufio.Writer, fields ...string) {
	for i, f := range fields {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteByte('"')
		w.WriteString(strings.ReplaceAll(f, `"`, `""`))
		w.WriteByte('"')
	}
	w.WriteByte('\n')
}

// formulaStarts are the characters that make a spreadsheet read a cell as
// a formula (or, for tab and line breaks, shift what follows into one).
const formulaStarts = "=+-@\t\r\n"

// cellBreaks are the characters where a spreadsheet may start a new cell
// when it splits the text with its own separator or ignores the quotes.
const cellBreaks = ",;\t\r\n|"

// safeCell prefixes with a quote every formula start found at the start of
// s or after a cell break (spaces in between are skipped, as spreadsheets
// trim them): "x;=1+1;" becomes "x;'=1+1;", so no split yields a formula.
func safeCell(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	atStart := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if atStart && c != ' ' {
			if strings.IndexByte(formulaStarts, c) >= 0 {
				b.WriteByte('\'')
			}
			atStart = false
		}
		b.WriteByte(c)
		if strings.IndexByte(cellBreaks, c) >= 0 {
			atStart = true
		}
	}
	return b.String()
}
