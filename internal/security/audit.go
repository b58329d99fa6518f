package security

import (
	"context"
	"encoding/csv"
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
// UTC. Cells that a spreadsheet would run as a formula are prefixed with a
// quote (CSV injection).
func WriteAuditCSV(w io.Writer, entries []*core.AuditEntry) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "time", "action", "actor_id", "actor_name", "target_id", "detail", "ip"})
	for _, e := range entries {
		// Every text cell is guarded, not only the ones people type: an IP
		// or action comes from a header or a future caller too.
		_ = cw.Write([]string{strconv.FormatInt(e.ID, 10), e.CreatedAt.UTC().Format(time.RFC3339), safeCell(string(e.Action)),
			strconv.FormatInt(e.ActorID, 10), safeCell(e.ActorName), strconv.FormatInt(e.TargetID, 10), safeCell(e.Detail), safeCell(e.IP)})
	}
	cw.Flush()
	return cw.Error()
}

func safeCell(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r\n", s[0]) >= 0 {
		return "'" + s
	}
	return s
}
