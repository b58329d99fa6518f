package notify

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"roster/internal/core"
	"roster/internal/store"
)

// Default switches of a person who saved none.
const (
	DefaultReceive     = true
	DefaultEmailTiming = core.EmailInstant
	DefaultDigestTime  = "09:00"
)

// cell is one square of the type × channel matrix.
type cell struct {
	Type    string
	Channel Channel
}

// Matrix holds on/off per type and channel.
type Matrix map[string]map[Channel]bool

// On reports the cell's value.
func (m Matrix) On(typeKey string, ch Channel) bool { return m[typeKey][ch] }

func (m Matrix) set(typeKey string, ch Channel, on bool) {
	if m[typeKey] == nil {
		m[typeKey] = make(map[Channel]bool, len(Channels))
	}
	m[typeKey][ch] = on
}

// Settings are a person's notification settings as they apply.
type Settings struct {
	Receive     bool
	EmailTiming string
	DigestTime  string
	Quiet       []core.QuietRange
	PausedUntil time.Time // zero: not paused
	// Cells is every type × channel as it applies; Chosen the cells the
	// person set themselves (the rest follow the workspace's default).
	Cells  Matrix
	Chosen Matrix
}

// ChannelState is whether a channel can reach a person, and why not.
type ChannelState struct {
	Channel Channel
	Usable  bool
	Reason  string // a notify.unusable.* key suffix when not usable
}

// resolver computes effective cells from the catalogue, the workspace's
// defaults and a person's choices.
type resolver struct {
	workspace map[cell]bool
}

func newResolver(prefs []core.NotifyPref) (resolver, map[int64]map[cell]bool) {
	r := resolver{workspace: map[cell]bool{}}
	users := map[int64]map[cell]bool{}
	for _, p := range prefs {
		c := cell{p.Type, Channel(p.Channel)}
		if p.UserID == 0 {
			r.workspace[c] = p.Enabled
			continue
		}
		if users[p.UserID] == nil {
			users[p.UserID] = map[cell]bool{}
		}
		users[p.UserID][c] = p.Enabled
	}
	return r, users
}

// defaultOn is the workspace's value of a cell, else the catalogue's.
func (r resolver) defaultOn(t *Type, ch Channel) bool {
	if !ch.Switchable() || t.Mandatory {
		return true
	}
	if v, ok := r.workspace[cell{t.Key, ch}]; ok {
		return v
	}
	return t.DefaultOn(ch)
}

// on is a person's value of a cell.
func (r resolver) on(t *Type, ch Channel, chosen map[cell]bool) bool {
	if !ch.Switchable() || t.Mandatory {
		return true
	}
	if v, ok := chosen[cell{t.Key, ch}]; ok {
		return v
	}
	return r.defaultOn(t, ch)
}

// Settings returns the viewer's notification settings.
func (s *Service) Settings(ctx context.Context, viewer *core.User) (*Settings, error) {
	q := s.db.Reader()
	own, found, err := q.NotifySettings(ctx, viewer.ID)
	if err != nil {
		return nil, err
	}
	if !found {
		own = defaultSwitches()
	}
	prefs, err := q.NotifyPrefs(ctx, viewer.WorkspaceID, []int64{0, viewer.ID})
	if err != nil {
		return nil, err
	}
	r, users := newResolver(prefs)
	out := &Settings{Receive: own.Receive, EmailTiming: own.EmailTiming, DigestTime: own.DigestTime, Quiet: own.Quiet,
		Cells: Matrix{}, Chosen: Matrix{}}
	if own.PausedUntil.After(s.now()) {
		out.PausedUntil = own.PausedUntil
	}
	for _, t := range catalogue {
		for _, ch := range Channels {
			out.Cells.set(t.Key, ch, r.on(t, ch, users[viewer.ID]))
		}
	}
	for c, v := range users[viewer.ID] {
		out.Chosen.set(c.Type, c.Channel, v)
	}
	return out, nil
}

// WorkspaceDefaults returns the matrix new users of the viewer's workspace
// start from (admins only).
func (s *Service) WorkspaceDefaults(ctx context.Context, viewer *core.User) (Matrix, error) {
	if viewer.Role != core.RoleAdmin {
		return nil, core.ErrForbidden
	}
	prefs, err := s.db.Reader().NotifyPrefs(ctx, viewer.WorkspaceID, []int64{0})
	if err != nil {
		return nil, err
	}
	r, _ := newResolver(prefs)
	m := Matrix{}
	for _, t := range catalogue {
		for _, ch := range Channels {
			m.set(t.Key, ch, r.defaultOn(t, ch))
		}
	}
	return m, nil
}

func defaultSwitches() core.NotifySettings {
	return core.NotifySettings{Receive: DefaultReceive, EmailTiming: DefaultEmailTiming, DigestTime: DefaultDigestTime}
}

// SettingsInput changes a person's settings; nil fields stay as they are.
type SettingsInput struct {
	Receive     *bool
	EmailTiming *string
	DigestTime  *string
	// Quiet replaces the quiet hours; PausedUntil the pause (a zero time
	// ends it).
	Quiet       *[]core.QuietRange
	PausedUntil *time.Time
	// Cells to set: type key → channel name → on. Every named cell must
	// exist and be switchable.
	Cells map[string]map[string]bool
}

var hhmm = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

// checkCells validates cells and returns them as prefs.
func checkCells(v *core.Invalid, cells map[string]map[string]bool) []core.NotifyPref {
	var out []core.NotifyPref
	for key, row := range cells {
		t, ok := TypeOf(key)
		if !ok {
			v.Add("types."+key, "errors.notify.unknown_type", map[string]any{"Type": key})
			continue
		}
		for name, on := range row {
			ch, ok := ChannelOf(name)
			switch {
			case !ok:
				v.Add("types."+key+"."+name, "errors.notify.unknown_channel", map[string]any{"Channel": name})
			case (t.Mandatory || !ch.Switchable()) && !on:
				v.Add("types."+key+"."+name, "errors.notify.always_on", nil)
			case t.Mandatory || !ch.Switchable():
				// Always on: nothing to store.
			default:
				out = append(out, core.NotifyPref{Type: key, Channel: name, Enabled: on})
			}
		}
	}
	return out
}

// SaveSettings applies in to the viewer's settings at once and returns
// them as they now apply. Bad input changes nothing.
func (s *Service) SaveSettings(ctx context.Context, viewer *core.User, in SettingsInput) (*Settings, error) {
	var v core.Invalid
	if in.EmailTiming != nil && *in.EmailTiming != core.EmailInstant && *in.EmailTiming != core.EmailDaily {
		v.Add("email_timing", "errors.notify.email_timing", nil)
	}
	if in.DigestTime != nil && !hhmm.MatchString(*in.DigestTime) {
		v.Add("digest_time", "errors.notify.digest_time", nil)
	}
	if in.Quiet != nil {
		checkQuiet(&v, *in.Quiet)
	}
	if in.PausedUntil != nil && !in.PausedUntil.IsZero() &&
		(!in.PausedUntil.After(s.now()) || in.PausedUntil.After(s.now().AddDate(1, 0, 0))) {
		v.Add("paused_until", "errors.notify.paused_until", nil)
	}
	prefs := checkCells(&v, in.Cells)
	if err := v.Err(); err != nil {
		return nil, err
	}
	err := s.db.InTx(ctx, func(q *store.Q) error {
		// The workspace's defaults decide which cells are stored (see
		// savePrefs): hold them still while we compare.
		if err := q.LockWorkspace(ctx, viewer.WorkspaceID); err != nil {
			return err
		}
		own, found, err := q.NotifySettings(ctx, viewer.ID)
		if err != nil {
			return err
		}
		if !found {
			own = defaultSwitches()
		}
		if in.Receive != nil {
			own.Receive = *in.Receive
		}
		if in.EmailTiming != nil {
			own.EmailTiming = *in.EmailTiming
		}
		if in.DigestTime != nil {
			own.DigestTime = *in.DigestTime
		}
		if in.Quiet != nil {
			own.Quiet = *in.Quiet
		}
		if in.PausedUntil != nil {
			own.PausedUntil = *in.PausedUntil
		}
		if err := q.SaveNotifySettings(ctx, viewer.ID, own); err != nil {
			return err
		}
		if err := s.reschedule(ctx, q, viewer, own, true); err != nil {
			return err
		}
		return s.savePrefs(ctx, q, viewer.WorkspaceID, viewer.ID, prefs)
	})
	if err != nil {
		return nil, fmt.Errorf("save notification settings: %w", err)
	}
	return s.Settings(ctx, viewer)
}

// savePrefs stores the cells of userID that differ from the default they
// would otherwise follow, and forgets those equal to it: a person who
// sets a cell back to the default follows the default again.
func (s *Service) savePrefs(ctx context.Context, q *store.Q, workspaceID, userID int64, prefs []core.NotifyPref) error {
	if len(prefs) == 0 {
		return nil
	}
	if userID == 0 {
		return q.ReplaceNotifyPrefs(ctx, workspaceID, 0, prefs, nil)
	}
	current, err := q.NotifyPrefs(ctx, workspaceID, []int64{0})
	if err != nil {
		return err
	}
	r, _ := newResolver(current)
	var set, unset []core.NotifyPref
	for _, p := range prefs {
		t, _ := TypeOf(p.Type)
		if r.defaultOn(t, Channel(p.Channel)) == p.Enabled {
			unset = append(unset, p)
		} else {
			set = append(set, p)
		}
	}
	return q.ReplaceNotifyPrefs(ctx, workspaceID, userID, set, unset)
}

// SaveWorkspaceDefaults sets cells of the workspace's default matrix
// (admins only). People who never chose a cell follow it at once.
func (s *Service) SaveWorkspaceDefaults(ctx context.Context, viewer *core.User, cells map[string]map[string]bool, ip string) (Matrix, error) {
	if viewer.Role != core.RoleAdmin {
		return nil, core.ErrForbidden
	}
	var v core.Invalid
	prefs := checkCells(&v, cells)
	if err := v.Err(); err != nil {
		return nil, err
	}
	err := s.db.InTx(ctx, func(q *store.Q) error {
		if err := q.LockWorkspace(ctx, viewer.WorkspaceID); err != nil {
			return err
		}
		if err := s.savePrefs(ctx, q, viewer.WorkspaceID, 0, prefs); err != nil {
			return err
		}
		return s.events.Record(ctx, q, core.Event{Action: core.AuditNotifyDefaults, WorkspaceID: viewer.WorkspaceID,
			ActorID: viewer.ID, ActorName: viewer.Name, TargetID: viewer.ID, IP: ip})
	})
	if err != nil {
		return nil, fmt.Errorf("save notification defaults: %w", err)
	}
	return s.WorkspaceDefaults(ctx, viewer)
}

// ChannelStates returns, for the viewer, which channels can reach them.
func (s *Service) ChannelStates(ctx context.Context, viewer *core.User) ([]ChannelState, error) {
	usable, err := s.usability(ctx, s.db.Reader(), []*core.User{viewer})
	if err != nil {
		return nil, err
	}
	out := make([]ChannelState, 0, len(Channels))
	for _, ch := range Channels {
		reason := usable[ch][viewer.ID]
		out = append(out, ChannelState{Channel: ch, Usable: reason == "", Reason: reason})
	}
	return out, nil
}
