package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"roster/internal/account"
	"roster/internal/app"
	"roster/internal/core"
	"roster/internal/gcfloor"
	"roster/internal/logbuf"
	"roster/internal/notify/mobile/apns"
	"roster/internal/notify/mobile/fcm"
	"roster/internal/notify/telegram"
	"roster/internal/secrets"
	"roster/internal/seed"
	"roster/internal/store"
)

const usage = `Roster: profiles, sign-in security and notifications for a CRM workspace.

Usage:
  roster serve [flags]            start the service (see roster serve --help)
  roster migrate [flags]          apply database migrations and exit
  roster user create [flags]      create a user; the password is read from stdin
  roster token create [flags]     create an API token and print it once
  roster seed [flags]             fill an empty database with test data (benchmarks, demos)
  roster backup --to FILE         copy the SQLite database while Roster runs (see roster backup --help)
  roster restore --from FILE      put a backup into a new data folder
  roster version                  print the version
`

// Run executes one roster command. It is main without the process: tests
// call it with their own arguments and streams.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch cmd := strings.Join(args[:min(2, len(args))], " "); {
	case args[0] == "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case args[0] == "migrate":
		return migrate(ctx, args[1:], stderr)
	case cmd == "user create":
		return createUser(ctx, args[2:], stdin, stdout, stderr)
	case cmd == "token create":
		return createToken(ctx, args[2:], stdout, stderr)
	case args[0] == "seed":
		return seedData(ctx, args[1:], stdout, stderr)
	case args[0] == "backup":
		return backup(ctx, args[1:], stdout, stderr)
	case args[0] == "restore":
		return restore(ctx, args[1:], stdout, stderr)
	case args[0] == "version", args[0] == "--version":
		fmt.Fprintln(stdout, "roster", app.Version)
		return nil
	case args[0] == "help", args[0] == "-h", args[0] == "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", strings.Join(args, " "))
	}
}

// envFlags registers flags whose defaults come from ROSTER_* variables:
// --database-url reads ROSTER_DATABASE_URL, and so on.
type envFlags struct{ *flag.FlagSet }

func newFlags(name string, stderr io.Writer) envFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return envFlags{fs}
}

func envName(flagName string) string {
	return "ROSTER_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (f envFlags) str(p *string, name, def, help string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		def = v
	}
	f.StringVar(p, name, def, help+" ["+envName(name)+"]")
}

// secret is str for a value --help must never print: its variable's value
// is not shown as the default.
func (f envFlags) secret(p *string, name, help string) {
	*p = os.Getenv(envName(name))
	f.Func(name, help+" ["+envName(name)+"]", func(s string) error { *p = s; return nil })
}

func (f envFlags) boolean(p *bool, name string, def bool, help string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		if x, err := strconv.ParseBool(v); err == nil {
			def = x
		}
	}
	f.BoolVar(p, name, def, help+" ["+envName(name)+"]")
}

func (f envFlags) duration(p *time.Duration, name string, def time.Duration, help string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		if d, err := parseDuration(v); err == nil {
			def = d
		}
	}
	f.Func(name, fmt.Sprintf("%s (default %s) [%s]", help, formatDuration(def), envName(name)), func(s string) error {
		d, err := parseDuration(s)
		*p = d
		return err
	})
	*p = def
}

func (f envFlags) float(p *float64, name string, def float64, help string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		if x, err := strconv.ParseFloat(v, 64); err == nil {
			def = x
		}
	}
	f.Float64Var(p, name, def, help+" ["+envName(name)+"]")
}

func (f envFlags) integer(p *int, name string, def int, help string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		if x, err := strconv.Atoi(v); err == nil {
			def = x
		}
	}
	f.IntVar(p, name, def, help+" ["+envName(name)+"]")
}

// storageFlags are the flags every command that touches the database takes.
func storageFlags(f envFlags, cfg *app.Config) {
	f.str(&cfg.DataDir, "data", "./roster-data", "folder for the SQLite database, the secret key and files")
	f.str(&cfg.DatabaseURL, "database-url", "", "empty for SQLite in the data folder, or postgres://user:pass@host/db")
	f.str(&cfg.SQLiteSync, "sqlite-synchronous", store.SyncNormal, "SQLite's sync at commit: normal keeps every acknowledged write through a crash of roster and loses none of the database on power loss, but may lose the last moments' writes; full keeps those too, at one fsync per commit")
	f.str(&cfg.SecretKey, "secret-key", "", "base64 of 32 random bytes sealing stored secrets; default: generated into <data>/secret.key (instances sharing a database must share it)")
	f.str(&cfg.BaseURL, "base-url", "", "public URL used in links; https turns on Secure cookies (default http://localhost:<port>)")
}

func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}

// goProcs is the GOMAXPROCS serve sets, 0 to leave Go's: the --procs
// flag's when given; else, with no GOMAXPROCS variable and no CPU limit
// (Go's default, goDefault, is then every core), four per core.
//
// Why more than one per core: a server shares its cores (with PostgreSQL,
// a proxy, the load of its host). When the kernel pauses the thread of one
// of Go's processors, the requests queued on it wait for the thread to run
// again; with more processors than cores, the others take them. Measured
// on 2 cores with wrk on the same machine (issue 11): GET /api/v1/me's p99
// 11 to 13 ms against 20 to 23, the profile page's 36 to 42 against 61 to
// 66, at the same throughput. Under a CPU limit (a container's quota) more
// threads would only spend the quota sooner and be throttled.
func goProcs(flag int, envSet bool, goDefault, cores int) int {
	switch {
	case flag > 0:
		return flag
	case envSet || goDefault < cores:
		return 0
	}
	return 4 * cores
}

// processSettings are serve's settings of the process rather than of the
// App (app.Open, which tests call many times, never sees them).
type processSettings struct {
	logFormat string
	// procs is --procs: Go processors (GOMAXPROCS), 0 for goProcs' choice.
	procs int
	// gcPercent is --gc-percent: Go's GC target once serving; a GOGC
	// variable wins.
	gcPercent int
}

// serveConfig reads serve's flags (and their ROSTER_* variables) into a
// Config and the process's settings; --help gives flag.ErrHelp.
func serveConfig(args []string, stderr io.Writer) (cfg app.Config, proc processSettings, err error) {
	var proxies, pushNetworks string
	f := newFlags("roster serve", stderr)
	f.str(&cfg.Addr, "addr", ":8080", "address to listen on")
	f.str(&cfg.MetricsAddr, "metrics-addr", "", "address serving Prometheus /metrics, apart from the public one, e.g. 127.0.0.1:9090; empty: off")
	f.boolean(&cfg.Pprof, "pprof", false, "also serve Go's profiler (/debug/pprof/) on --metrics-addr, for measuring")
	storageFlags(f, &cfg)
	f.str(&proc.logFormat, "log-format", "text", "log format: text or json")
	f.integer(&proc.procs, "procs", 0, "Go processors (GOMAXPROCS); 0: four per core, or Go's own choice under a CPU limit or a GOMAXPROCS variable")
	f.integer(&proc.gcPercent, "gc-percent", 150, "Go's garbage collection target (GOGC): the heap may grow this many percent over what is live before a collection; while busy it may first grow to 96 MB; a GOGC variable wins over both")
	f.str(&cfg.FilesURL, "files-url", "", "where photos are stored: empty for <data>/files, file:///path, or s3://bucket?region=...&endpoint=... for several instances")
	f.str(&cfg.SMTPURL, "smtp-url", "", "SMTP server, smtp://user:pass@host:587 (STARTTLS) or smtps://user:pass@host:465; empty keeps mail in the dev outbox")
	f.str(&cfg.MailFrom, "mail-from", "", "From address of outgoing mail, e.g. roster@example.com")
	f.str(&proxies, "trusted-proxies", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is trusted")
	f.duration(&cfg.SessionIdle, "session-idle", 90*24*time.Hour, "sign out a session unused this long")
	f.duration(&cfg.SessionMax, "session-max", 365*24*time.Hour, "sign out a session this long after sign-in")
	f.duration(&cfg.TwoFactorIdle, "two-factor-idle", 30*24*time.Hour, "sign out a session of a user with two-step verification unused this long")
	f.duration(&cfg.RecentSignIn, "recent-sign-in", 10*time.Minute, "with two-step verification off, a password change needs no current password this soon after sign-in")
	f.float(&cfg.APIRate, "api-rate", 7, "API requests per second per token or session")
	f.integer(&cfg.APIBurst, "api-burst", 14, "API burst above the rate")
	f.duration(&cfg.ShutdownTimeout, "shutdown-timeout", 20*time.Second, "time given to in-flight requests and jobs at shutdown")
	f.duration(&cfg.JobRescueAfter, "job-rescue-after", 5*time.Minute, "a job left running this long by an instance that died (kill -9, power loss) is run again")
	f.duration(&cfg.NotificationRetention, "notification-retention", 90*24*time.Hour, "notifications older than this are deleted")
	mobileFlags(f, &cfg)
	f.secret(&cfg.TelegramBotToken, "telegram-bot-token", "the Telegram bot's token from BotFather; empty: no Telegram channel (secret: never logged)")
	f.str(&cfg.TelegramAPIURL, "telegram-api-url", telegram.DefaultAPIURL, "the Telegram Bot API base URL (a local Bot API server, or a test double)")
	f.boolean(&cfg.TelegramWebhook, "telegram-webhook", false, "receive Telegram updates by webhook at <base-url>/telegram/webhook instead of long polling; needs a public https --base-url")
	f.boolean(&cfg.BrowserPush, "browser-push", true, "send notifications to browsers by Web Push (VAPID keys are made at first start)")
	f.str(&cfg.PushSubject, "push-subject", "", "the contact push services see in VAPID (mailto:… or https://…); empty: --mail-from's address, else an https --base-url")
	f.str(&pushNetworks, "push-allowed-networks", "", "comma-separated CIDRs a push endpoint may resolve into although private (a push service of your own network); by default only public addresses are dialled")
	f.Usage = func() {
		fmt.Fprint(f.Output(), "Usage: roster serve [flags]\n\nEach flag can also be set with the environment variable in brackets.\n\nFlags:\n")
		f.PrintDefaults()
	}
	if err := f.Parse(args); err != nil {
		return cfg, proc, err
	}
	for _, p := range strings.Split(pushNetworks, ",") {
		if p = strings.TrimSpace(p); p != "" {
			prefix, err := netip.ParsePrefix(p)
			if err != nil {
				return cfg, proc, fmt.Errorf("--push-allowed-networks: %q is not a CIDR: %w", p, err)
			}
			cfg.PushAllowedNetworks = append(cfg.PushAllowedNetworks, prefix.Masked())
		}
	}
	for _, p := range strings.Split(proxies, ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.TrustedProxies = append(cfg.TrustedProxies, p)
		}
	}
	if cfg.SMTPURL != "" && cfg.MailFrom == "" {
		return cfg, proc, errors.New("--mail-from is required with --smtp-url")
	}
	return cfg, proc, nil
}

// mobileFlags are the settings of push to the mobile app; FCM and APNs are
// each off until their key file is given.
func mobileFlags(f envFlags, cfg *app.Config) {
	m := &cfg.Mobile
	f.str(&m.FCMCredentials, "fcm-credentials", "", "FCM: the Firebase service account's JSON key file; empty: FCM off")
	f.str(&m.FCMEndpoint, "fcm-endpoint", fcm.DefaultEndpoint, "FCM: base URL of the HTTP v1 API")
	f.str(&m.APNsKey, "apns-key", "", "APNs: the .p8 key file (token auth); empty: APNs off")
	f.str(&m.APNsKeyID, "apns-key-id", "", "APNs: the key's id")
	f.str(&m.APNsTeamID, "apns-team-id", "", "APNs: the team id")
	f.str(&m.APNsTopic, "apns-topic", "", "APNs: the app's bundle id")
	f.str(&m.APNsEnvironment, "apns-environment", apns.Production, "APNs: production or sandbox")
	f.str(&m.APNsEndpoint, "apns-endpoint", "", "APNs: base URL overriding the environment's")
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, proc, err := serveConfig(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	// Lines go out in batches (package logbuf: a write per request, under
	// slog's lock, held up every request when the kernel paused it);
	// warnings and errors at once.
	lines := logbuf.New(stderr, logbuf.DefaultInterval, logbuf.DefaultLimit)
	defer lines.Close()
	logger, err := newLogger(proc.logFormat, lines)
	if err != nil {
		return err
	}
	logger = slog.New(logbuf.Handler(logger.Handler(), lines))
	slog.SetDefault(logger)
	_, envSet := os.LookupEnv("GOMAXPROCS")
	if n := goProcs(proc.procs, envSet, runtime.GOMAXPROCS(0), runtime.NumCPU()); n > 0 {
		runtime.GOMAXPROCS(n)
	}
	a, err := app.Open(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Opening parsed catalogs, templates and migrations: hand what that
	// left behind back to the system now rather than at the next cycles.
	debug.FreeOSMemory()
	// Then a GC target half again Go's default for serving (after opening,
	// whose burst of garbage is collected at Go's default, so the footprint
	// at start stays what it was: 51 MB against 49 when raised before).
	// Measured on 2 cores (issue 11): at 200, GET /api/v1/me 15 % more
	// requests/s and a p99 1 to 2 ms lower, but 10,000 idle streams took
	// 300 MB (target 300) and sign-in peaked at 488 MB (target 512); 150
	// is between. Sign-in, whose 19 MiB per hash made any raise costly
	// before, no longer allocates them (package argon2id). While busy, the
	// heap may grow to gcfloor's floor first: a small live heap otherwise
	// meant ten collections a second.
	if _, set := os.LookupEnv("GOGC"); !set && proc.gcPercent > 0 {
		gcfloor.Run(ctx, gcfloor.Default(proc.gcPercent))
	}
	return a.Run(ctx, ln)
}

// openStore opens and migrates the database for the admin commands.
func openStore(ctx context.Context, cfg app.Config) (*store.DB, error) {
	db, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir, store.SQLiteSynchronous(cfg.SQLiteSync))
	if err != nil {
		return nil, err
	}
	if err := app.Migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func migrate(ctx context.Context, args []string, stderr io.Writer) error {
	var cfg app.Config
	f := newFlags("roster migrate", stderr)
	storageFlags(f, &cfg)
	if err := f.Parse(args); err != nil {
		return ignoreHelp(err)
	}
	db, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(stderr, "migrations applied")
	return nil
}

func ignoreHelp(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// services opens the app without serving, for commands that need its rules.
func services(ctx context.Context, cfg app.Config, stderr io.Writer) (*app.App, error) {
	// Commands print their own results; only errors are worth a log line.
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	slog.SetDefault(logger)
	cfg.SMTPURL = "" // commands enqueue mail; `serve` sends it
	return app.Open(ctx, cfg, logger)
}

type rightsFlag []core.Right

func (r *rightsFlag) String() string { return fmt.Sprint(*r) }
func (r *rightsFlag) Set(s string) error {
	*r = append(*r, core.Right(s))
	return nil
}

func createUser(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var cfg app.Config
	var in account.CreateUserInput
	var role string
	var rights rightsFlag
	f := newFlags("roster user create", stderr)
	storageFlags(f, &cfg)
	f.StringVar(&in.Workspace, "workspace", "", "workspace name (created when it does not exist)")
	f.StringVar(&in.Name, "name", "", "display name")
	f.StringVar(&in.Email, "email", "", "email address")
	f.StringVar(&role, "role", "user", "admin or user (the first user of a workspace is always an admin)")
	f.Var(&rights, "right", "extra right, repeatable: profile-access")
	if err := f.Parse(args); err != nil {
		return ignoreHelp(err)
	}
	in.Role = core.Role(role)
	in.Rights = rights
	pw, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read password from stdin: %w", err)
	}
	in.Password = strings.TrimRight(pw, "\r\n")
	a, err := services(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := a.Accounts.CreateUser(ctx, in)
	if err != nil {
		return explain(a, err)
	}
	fmt.Fprintf(stdout, "created user %d <%s> (%s) in workspace %q\n", u.ID, u.Email, u.Role, in.Workspace)
	return nil
}

// explain turns a domain error into English text for the terminal.
func explain(a *app.App, err error) error {
	e := core.AsError(err)
	if e == nil {
		return err
	}
	l := a.I18n.Localizer("en")
	msg := l.Message(e.Key, e.Data)
	for _, fe := range e.Fields {
		msg += fmt.Sprintf("\n  %s: %s", fe.Field, l.Message(fe.Key, fe.Data))
	}
	return errors.New(msg)
}

func createToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg app.Config
	var email, name, expires string
	f := newFlags("roster token create", stderr)
	storageFlags(f, &cfg)
	f.StringVar(&email, "email", "", "email of the admin the token acts as")
	f.StringVar(&name, "name", "", "label, e.g. the integration's name")
	f.StringVar(&expires, "expires", "30d", "lifetime: 1d to 5y (units d, w, y, or Go durations)")
	if err := f.Parse(args); err != nil {
		return ignoreHelp(err)
	}
	ttl, err := parseDuration(expires)
	if err != nil {
		return err
	}
	a, err := services(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	norm, _ := core.NormalizeEmail(email)
	u, err := a.DB.Reader().UserByEmail(ctx, norm)
	if err != nil {
		return fmt.Errorf("no user with email %q", email)
	}
	secret, t, err := a.Auth.CreateAPIToken(ctx, u, name, ttl)
	if err != nil {
		return explain(a, err)
	}
	fmt.Fprintf(stderr, "token %d %q expires %s; it is shown only once:\n", t.ID, t.Name, t.ExpiresAt.Format(time.RFC3339))
	fmt.Fprintln(stdout, secret)
	return nil
}

// seedData fills an empty database for benchmarks and demos, and writes
// every seeded person's API token and session to a credentials file.
func seedData(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg app.Config
	var c seed.Config
	var out string
	f := newFlags("roster seed", stderr)
	storageFlags(f, &cfg)
	f.IntVar(&c.Workspaces, "workspaces", 1, "how many workspaces")
	f.IntVar(&c.UsersPerWorkspace, "users-per-workspace", 100, "people in each (the first is its admin)")
	f.IntVar(&c.NotificationsPerUser, "notifications-per-user", 20, "notifications each person has (half of them unread)")
	f.StringVar(&c.Password, "password", "seed-password-1", "everyone's password")
	f.StringVar(&out, "credentials", "", "file to write each person's API token and session to, one JSON line each (secret: keep it away from production)")
	if err := f.Parse(args); err != nil {
		return ignoreHelp(err)
	}
	db, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if out != "" {
		file, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer file.Close()
		w := bufio.NewWriter(file)
		defer w.Flush()
		c.Credentials = w
	}
	start := time.Now()
	res, err := seed.Seed(ctx, db, c)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded %d workspaces, %d people, %d notifications in %s\n", res.Workspaces, res.Users, res.Notifications,
		time.Since(start).Round(time.Millisecond))
	return nil
}

// parseDuration accepts Go durations plus whole days (d), weeks (w) and
// years of 365 days (y).
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n := len(s); n > 1 {
		unit := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'y': 365 * 24 * time.Hour}[s[n-1]]
		if unit > 0 {
			v, err := strconv.Atoi(s[:n-1])
			if err != nil || v < 0 {
				return 0, fmt.Errorf("invalid duration %q", s)
			}
			return time.Duration(v) * unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use e.g. 30d, 12h, 1y)", s)
	}
	return d, nil
}

func formatDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return d.String()
}

// backup copies the SQLite database, consistently, while serve runs, and
// says what else a restore needs. It opens the database without migrating:
// a backup never changes what it copies.
func backup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg app.Config
	var to string
	f := newFlags("roster backup", stderr)
	storageFlags(f, &cfg)
	f.str(&cfg.FilesURL, "files-url", "", "where the photos are (as serve's --files-url), to say what to copy besides the database")
	f.StringVar(&to, "to", "", "the file to write; it must not exist")
	if err := f.Parse(args); err != nil {
		return ignoreHelp(err)
	}
	if to == "" {
		return errors.New("backup: --to FILE is required")
	}
	if strings.HasPrefix(cfg.DatabaseURL, "postgres") {
		return store.ErrBackupPostgres
	}
	if cfg.DatabaseURL == "" {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, store.SQLiteFile)); err != nil {
			return fmt.Errorf("backup: no Roster database in %s (--data)", cfg.DataDir)
		}
	}
	db, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	size, err := db.Backup(ctx, to)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up the database to %s (%.1f MB): everything saved before the backup began.\n", to, float64(size)/(1<<20))
	fmt.Fprintf(stdout, "Keep with it:\n")
	if cfg.SecretKey == "" {
		fmt.Fprintf(stdout, "  %s: the secret key; without it the copy's sealed secrets (authenticator keys, push keys) cannot be opened\n",
			filepath.Join(cfg.DataDir, secrets.KeyFile))
	} else {
		fmt.Fprintf(stdout, "  the --secret-key value: without it the copy's sealed secrets cannot be opened\n")
	}
	if cfg.FilesURL == "" {
		fmt.Fprintf(stdout, "  %s: the photos (copy the folder)\n", filepath.Join(cfg.DataDir, "files"))
	} else {
		fmt.Fprintf(stdout, "  the photos, in the storage --files-url names (not in this copy)\n")
	}
	return nil
}

// restore puts a backup into a new data folder.
func restore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var dataDir, from string
	f := newFlags("roster restore", stderr)
	f.str(&dataDir, "data", "./roster-data", "the data folder to restore into; it must not hold a database")
	f.StringVar(&from, "from", "", "the backup file (from roster backup)")
	if err := f.Parse(args); err != nil {
		return ignoreHelp(err)
	}
	if from == "" {
		return errors.New("restore: --from FILE is required")
	}
	if err := store.Restore(ctx, from, dataDir); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %s into %s.\nNext: put the secret key at %s (or pass --secret-key), copy the photos into %s, then: roster serve --data %s\n",
		from, dataDir, filepath.Join(dataDir, secrets.KeyFile), filepath.Join(dataDir, "files"), dataDir)
	return nil
}
