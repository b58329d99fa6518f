package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	"roster/internal/testenv"
)

// TestUpgradeFromEachMigration: a database left at any earlier migration,
// with rows in every table it has, upgrades to the latest. Every row and
// every value of the columns it had come through unchanged, and the schema
// is the one a database migrated from empty gets. The rows are made from
// the schema itself (two per table, parents first, CHECK lists honoured),
// so a new migration is covered without a fixture of its own.
func TestUpgradeFromEachMigration(t *testing.T) {
	ctx := context.Background()
	for _, engine := range []Engine{SQLite, Postgres} {
		t.Run(string(engine), func(t *testing.T) {
			fresh := openEmpty(t, engine)
			if err := fresh.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			want := schemaOf(t, fresh)
			versions := migrationVersions(t, engine)
			for _, v := range versions[:len(versions)-1] {
				t.Run(strconv.FormatInt(v, 10), func(t *testing.T) {
					db := openEmpty(t, engine)
					if _, err := migrationProvider(t, db).UpTo(ctx, v); err != nil {
						t.Fatal(err)
					}
					before := fillEveryTable(t, db)
					if err := db.Migrate(ctx); err != nil {
						t.Fatalf("upgrade from %d: %v", v, err)
					}
					if got := schemaOf(t, db); !slices.Equal(got, want) {
						t.Fatalf("the schema upgraded from %d differs from a fresh one:\n%s", v, diffLines(got, want))
					}
					for table, rows := range before {
						if got := dumpTable(t, db, table.name, table.columns); !slices.Equal(got, rows) {
							t.Errorf("%s after the upgrade from %d:\n got %q\nwant %q", table.name, v, got, rows)
						}
					}
				})
			}
		})
	}
}

// TestMigrationsAgree: both engines have the same migrations, each with an
// Up section. (Roster only ever migrates forward: serve and migrate run Up,
// and no command runs Down.)
func TestMigrationsAgree(t *testing.T) {
	if s, p := migrationVersions(t, SQLite), migrationVersions(t, Postgres); !slices.Equal(s, p) {
		t.Fatalf("SQLite has migrations %v, PostgreSQL %v", s, p)
	}
	for _, dir := range []string{"migrations/sqlite", "migrations/postgres"} {
		entries, err := fs.ReadDir(migrations, dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, _ := fs.ReadFile(migrations, dir+"/"+e.Name())
			if !strings.Contains(string(b), "-- +goose Up") {
				t.Errorf("%s/%s lacks an Up section", dir, e.Name())
			}
		}
	}
}

func openEmpty(t *testing.T, engine Engine) *DB {
	t.Helper()
	url := ""
	if engine == Postgres {
		url = testenv.FreshPostgres(t)
	}
	db, err := Open(context.Background(), url, filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func migrationDir(engine Engine) (string, goose.Dialect) {
	if engine == Postgres {
		return "migrations/postgres", goose.DialectPostgres
	}
	return "migrations/sqlite", goose.DialectSQLite3
}

func migrationProvider(t *testing.T, db *DB) *goose.Provider {
	t.Helper()
	dir, dialect := migrationDir(db.Engine)
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(dialect, db.W, sub)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func migrationVersions(t *testing.T, engine Engine) []int64 {
	t.Helper()
	dir, _ := migrationDir(engine)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, e := range entries {
		n, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			t.Fatalf("migration %s: %v", e.Name(), err)
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

type tableColumns struct {
	name    string
	columns string // comma-separated, as dumped
}

type column struct {
	name, kind string // kind: int, text, blob, bool, real
	notNull    bool
	identity   bool   // PostgreSQL GENERATED ALWAYS AS IDENTITY
	parent     string // the table a foreign key points to
	choices    []string
	onlyOne    bool // CHECK (id = 1)
}

// fillEveryTable inserts two rows into every table of db (one where a
// CHECK allows only one), parents before children, and returns each
// table's rows as dumped.
func fillEveryTable(t *testing.T, db *DB) map[tableColumns][]string {
	t.Helper()
	ctx := context.Background()
	tables := tablesOf(t, db)
	cols := make(map[string][]column, len(tables))
	for _, tb := range tables {
		cols[tb] = columnsOf(t, db, tb)
	}
	// Parents first: a table goes once every table it points to has.
	var order []string
	done := map[string]bool{}
	for len(order) < len(tables) {
		progressed := false
		for _, tb := range tables {
			if done[tb] {
				continue
			}
			ready := true
			for _, c := range cols[tb] {
				ready = ready && (c.parent == "" || c.parent == tb || done[c.parent])
			}
			if ready {
				order, done[tb], progressed = append(order, tb), true, true
			}
		}
		if !progressed {
			t.Fatalf("foreign keys in a cycle among %v", tables)
		}
	}
	out := make(map[tableColumns][]string)
	for _, tb := range order {
		var names []string
		for _, c := range cols[tb] {
			names = append(names, c.name)
		}
		for row := 1; row <= 2; row++ {
			var args []any
			var marks []string
			skip := false
			for i, c := range cols[tb] {
				args = append(args, valueFor(c, tb, row, db.Engine))
				marks = append(marks, db.ph(i+1))
				skip = skip || (c.onlyOne && row > 1)
			}
			if skip {
				continue
			}
			q := "INSERT INTO " + tb + " (" + strings.Join(names, ", ") + ")"
			if db.Engine == Postgres && slices.ContainsFunc(cols[tb], func(c column) bool { return c.identity }) {
				q += " OVERRIDING SYSTEM VALUE"
			}
			if _, err := db.W.ExecContext(ctx, q+" VALUES ("+strings.Join(marks, ", ")+")", args...); err != nil {
				t.Fatalf("fill %s: %v", tb, err)
			}
		}
		key := tableColumns{tb, strings.Join(names, ", ")}
		out[key] = dumpTable(t, db, tb, key.columns)
		if len(out[key]) == 0 {
			t.Fatalf("%s: no rows inserted", tb)
		}
	}
	return out
}

// ph is the engine's placeholder for the n-th argument.
func (db *DB) ph(n int) string {
	if db.Engine == Postgres {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

func valueFor(c column, table string, row int, engine Engine) any {
	switch {
	case len(c.choices) > 0:
		return c.choices[(row-1)%len(c.choices)]
	case c.onlyOne:
		return 1
	case c.parent != "":
		return row // parents have ids 1 and 2
	}
	switch c.kind {
	case "int":
		return row
	case "real":
		return float64(row) + 0.5
	case "bool":
		return row == 1
	case "blob":
		return []byte(fmt.Sprintf("%s.%s.%d", table, c.name, row))
	}
	return fmt.Sprintf("%s %s %d", table, c.name, row)
}

func tablesOf(t *testing.T, db *DB) []string {
	t.Helper()
	q := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version' ORDER BY name"
	if db.Engine == Postgres {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'goose_db_version' ORDER BY table_name"
	}
	return strings1(t, db, q)
}

var (
	sqliteCheckIn  = regexp.MustCompile(`(?i)(\w+)\s+[A-Z]+[^,]*?CHECK \((\w+) IN \(([^)]*)\)\)`)
	sqliteCheckOne = regexp.MustCompile(`(?i)(\w+)\s+[^,]*CHECK \((\w+) = 1\)`)
	pgCheckIn      = regexp.MustCompile(`\(\(?(\w+) = ANY \(ARRAY\[(.*)\]\)\)`)
	pgCheckOne     = regexp.MustCompile(`\((\w+) = 1\)`)
	quoted         = regexp.MustCompile(`'([^']*)'`)
)

func columnsOf(t *testing.T, db *DB, table string) []column {
	t.Helper()
	ctx := context.Background()
	var cols []column
	checks := map[string][]string{}
	one := map[string]bool{}
	fkQuery := `SELECT "from", "table" FROM pragma_foreign_key_list(?)`
	colQuery := `SELECT name, type, "notnull", 0 FROM pragma_table_info(?) ORDER BY cid`
	if db.Engine == SQLite {
		var ddl string
		if err := db.W.QueryRowContext(ctx, "SELECT sql FROM sqlite_master WHERE name = ?", table).Scan(&ddl); err != nil {
			t.Fatal(err)
		}
		for _, m := range sqliteCheckIn.FindAllStringSubmatch(ddl, -1) {
			for _, q := range quoted.FindAllStringSubmatch(m[3], -1) {
				checks[m[2]] = append(checks[m[2]], q[1])
			}
		}
		for _, m := range sqliteCheckOne.FindAllStringSubmatch(ddl, -1) {
			one[m[2]] = true
		}
	} else {
		for _, def := range strings1(t, db, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = '"+table+"'::regclass AND contype = 'c'") {
			if m := pgCheckIn.FindStringSubmatch(def); m != nil {
				for _, q := range quoted.FindAllStringSubmatch(m[2], -1) {
					checks[m[1]] = append(checks[m[1]], q[1])
				}
			} else if m := pgCheckOne.FindStringSubmatch(def); m != nil {
				one[m[1]] = true
			}
		}
		fkQuery = `SELECT a.attname, c.confrelid::regclass::text FROM pg_constraint c
			JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
			WHERE c.conrelid = $1::regclass AND c.contype = 'f'`
		colQuery = `SELECT column_name, data_type, is_nullable = 'NO', is_identity = 'YES'
			FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`
	}
	parents := map[string]string{}
	rows, err := db.W.QueryContext(ctx, fkQuery, table)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var from, parent string
		if err := rows.Scan(&from, &parent); err != nil {
			t.Fatal(err)
		}
		parents[from] = parent
	}
	rows.Close()
	rows, err = db.W.QueryContext(ctx, colQuery, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var c column
		var typ string
		if err := rows.Scan(&c.name, &typ, &c.notNull, &c.identity); err != nil {
			t.Fatal(err)
		}
		c.kind = kindOf(typ)
		cols = append(cols, c)
	}
	for i := range cols {
		cols[i].choices, cols[i].onlyOne, cols[i].parent = checks[cols[i].name], one[cols[i].name], parents[cols[i].name]
	}
	return cols
}

func kindOf(typ string) string {
	typ = strings.ToLower(typ)
	switch {
	case strings.Contains(typ, "int"):
		return "int"
	case strings.Contains(typ, "bool"):
		return "bool"
	case strings.Contains(typ, "blob"), strings.Contains(typ, "bytea"):
		return "blob"
	case strings.Contains(typ, "real"), strings.Contains(typ, "double"), strings.Contains(typ, "numeric"):
		return "real"
	}
	return "text"
}

// dumpTable is the table's rows, the given columns of each as text, in order.
func dumpTable(t *testing.T, db *DB, table, columns string) []string {
	t.Helper()
	rows, err := db.W.QueryContext(context.Background(), "SELECT "+columns+" FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := len(strings.Split(columns, ", "))
	var out []string
	for rows.Next() {
		vals := make([]any, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			parts = append(parts, fmt.Sprint(v))
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// schemaOf describes db's tables, columns, indexes and constraints, one
// line each, sorted.
func schemaOf(t *testing.T, db *DB) []string {
	t.Helper()
	var qs []string
	if db.Engine == SQLite {
		qs = []string{"SELECT type || ' ' || name || ' ' || tbl_name || ' ' || COALESCE(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"}
	} else {
		qs = []string{
			`SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || COALESCE(column_default, '') || ' ' || is_identity
			 FROM information_schema.columns WHERE table_schema = 'public'`,
			`SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'`,
			`SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace`,
		}
	}
	var out []string
	for _, q := range qs {
		out = append(out, strings1(t, db, q)...)
	}
	slices.Sort(out)
	return out
}

func strings1(t *testing.T, db *DB, q string) []string {
	t.Helper()
	rows, err := db.W.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s.String)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// diffLines lists the lines only one side has.
func diffLines(got, want []string) string {
	var b strings.Builder
	for _, g := range got {
		if !slices.Contains(want, g) {
			b.WriteString("+ " + g + "\n")
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			b.WriteString("- " + w + "\n")
		}
	}
	return b.String()
}
