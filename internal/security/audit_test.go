package security_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"

	"roster/internal/core"
	"roster/internal/security"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

func TestWorkspaceAudit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		p, _ := f.signIn(t, "bo@example.com", core.SessionWeb)
		f.enableTOTP(t, p)
		admin, _ := f.signIn(t, "ana@example.com", core.SessionWeb)
		if err := f.sec.Reset(ctx, admin, f.user.ID, "9.9.9.9"); err != nil {
			t.Fatal(err)
		}
		_ = db.Writer().Audit(ctx, &core.AuditEntry{WorkspaceID: f.admin.WorkspaceID, ActorID: f.admin.ID, TargetID: f.admin.ID,
			Action: core.AuditNoteChanged, Detail: "=HYPERLINK(\"http://evil\")"})

		if _, err := f.sec.Audit(ctx, f.user, security.AuditQuery{}); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("non-admin: %v", err)
		}
		all, err := f.sec.Audit(ctx, f.admin, security.AuditQuery{})
		if err != nil || len(all) != 4 || all[0].Action != core.AuditNoteChanged { // with the setup sign-in
			t.Fatalf("all: %d %v", len(all), err)
		}
		group, _ := f.sec.Audit(ctx, f.admin, security.AuditQuery{Type: "two_factor."})
		if len(group) != 2 || group[0].Action != core.AuditTwoFactorReset || group[0].IP != "9.9.9.9" || group[0].ActorName != "Ana" {
			t.Fatalf("two_factor group: %+v", group)
		}
		exact, _ := f.sec.Audit(ctx, f.admin, security.AuditQuery{Type: "two_factor.enabled", UserID: f.user.ID})
		if len(exact) != 1 {
			t.Fatalf("exact: %d", len(exact))
		}
		if _, err := f.sec.Audit(ctx, f.admin, security.AuditQuery{UserID: 99999}); core.ErrorCode(err) != core.ENOTFOUND {
			t.Fatalf("unknown user: %v", err)
		}
		var buf bytes.Buffer
		if err := security.WriteAuditCSV(&buf, all); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&buf).ReadAll()
		if err != nil || len(rows) != 5 || rows[0][2] != "action" || rows[1][6] != "'=HYPERLINK(\"http://evil\")" {
			t.Fatalf("csv: %v %v", rows, err)
		}
	})
}

func TestAuditCSVGuardsEveryTextCell(t *testing.T) {
	var buf bytes.Buffer
	err := security.WriteAuditCSV(&buf, []*core.AuditEntry{{ID: 1, Action: "-cmd", ActorName: "+Ana", Detail: "\nx", IP: "@SUM(1)"}})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("csv: %v %v", rows, err)
	}
	for i, want := range map[int]string{2: "'-cmd", 4: "'+Ana", 6: "'\nx", 7: "'@SUM(1)"} {
		if rows[1][i] != want {
			t.Errorf("column %d: %q, want %q", i, rows[1][i], want)
		}
	}
}

// TestAuditCSVGuardsAfterSeparators: a spreadsheet whose list separator is
// ";" (es, pt-BR, ru, tr, id) splits a cell at every ";", so "x;=1+1;"
// must not yield a formula cell; nor may a comma, tab or line break. Every
// field is quoted.
func TestAuditCSVGuardsAfterSeparators(t *testing.T) {
	attacks := map[string]string{
		"x;=1+1;":                    "x;'=1+1;",
		"a,=HYPERLINK(\"http://e\")": "a,'=HYPERLINK(\"http://e\")",
		"ok;+cmd|' /C calc'!A0":      "ok;'+cmd|' /C calc'!A0",
		"a; -2+3":                    "a; '-2+3",
		"a\t@SUM(1)":                 "a\t'@SUM(1)",
		"a\n=1":                      "a\n'=1",
		"a|=1":                       "a|'=1",
		"=1;=2":                      "'=1;'=2",
		"plain; text, fine":          "plain; text, fine",
	}
	for in, want := range attacks {
		var buf bytes.Buffer
		if err := security.WriteAuditCSV(&buf, []*core.AuditEntry{{ID: 7, Detail: in}}); err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitN(buf.String(), "\n", 2)
		if !strings.HasPrefix(lines[1], `"7","`) {
			t.Errorf("%q: fields not all quoted: %q", in, lines[1])
		}
		rows, err := csv.NewReader(strings.NewReader(buf.String())).ReadAll()
		if err != nil || len(rows) != 2 {
			t.Fatalf("%q: csv %v %v", in, rows, err)
		}
		if got := rows[1][6]; got != want {
			t.Errorf("%q written as %q, want %q", in, got, want)
		}
		// Split the record the way a ";" spreadsheet that ignores the
		// quotes would: no piece may start a formula.
		for _, sep := range []string{";", ",", "\t", "|", "\n"} {
			for _, piece := range strings.Split(rows[1][6], sep) {
				if p := strings.TrimLeft(piece, " "); p != "" && strings.ContainsRune("=+-@", rune(p[0])) {
					t.Errorf("%q: piece %q split at %q starts a formula", in, piece, sep)
				}
			}
		}
	}
}
