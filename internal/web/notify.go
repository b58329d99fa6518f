package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"roster/internal/core"
	"roster/internal/i18n"
	"roster/internal/notify"
)

// Settings → Notifications (a person's switches, email timing and the
// event type × channel matrix), the workspace defaults for admins, and the
// notification centre. The rules (precedence, what may be switched off,
// who may set defaults) live in internal/notify; these handlers turn forms
// into calls and results into pages.

const (
	notifySettingsURL = "/settings/notifications"
	notifyDefaultsURL = "/settings/notifications/defaults"
	centreURL         = "/notifications"
)

// matrixCell is one checkbox of the matrix.
type matrixCell struct {
	Channel notify.Channel
	Name    string // the checkbox's name: cell.<type>.<channel>
	Value   string // what the hidden "cells" list carries: <type>.<channel>
	On      bool
	Locked  bool   // always on: the in-app centre, or a mandatory type
	Error   string // translated field error
}

type matrixRow struct {
	Type  *notify.Type
	Cells []matrixCell
}

type matrixGroup struct {
	Category notify.Category
	Rows     []matrixRow
}

// matrixData is what the shared "notify-matrix" template draws.
type matrixData struct {
	Channels []notify.Channel
	Groups   []matrixGroup
}

// newMatrix lays out the catalogue by category with each cell's value from
// on, and the field errors of a refused save.
func newMatrix(on func(t *notify.Type, ch notify.Channel) bool, fields map[string]string) matrixData {
	m := matrixData{Channels: notify.Channels}
	for _, cat := range notify.Categories {
		g := matrixGroup{Category: cat}
		for _, t := range notify.Types() {
			if t.Category != cat {
				continue
			}
			row := matrixRow{Type: t}
			for _, ch := range notify.Channels {
				value := t.Key + "." + string(ch)
				c := matrixCell{Channel: ch, Name: "cell." + value, Value: value, Locked: t.Mandatory || !ch.Switchable(),
					Error: fields["types."+value]}
				c.On = c.Locked || on(t, ch)
				row.Cells = append(row.Cells, c)
			}
			g.Rows = append(g.Rows, row)
		}
		if len(g.Rows) > 0 {
			m.Groups = append(m.Groups, g)
		}
	}
	return m
}

// formMatrix reads the posted matrix: every cell named in the hidden
// "cells" list, on when its checkbox was sent. A checkbox left unticked is
// not sent at all, so the list is what says which cells are off.
func formMatrix(f url.Values) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, v := range f["cells"] {
		i := strings.LastIndexByte(v, '.')
		if i <= 0 || i == len(v)-1 {
			continue
		}
		typ, ch := v[:i], v[i+1:]
		if out[typ] == nil {
			out[typ] = map[string]bool{}
		}
		out[typ][ch] = formOn(f.Get("cell." + v))
	}
	return out
}

// postedOn shows a refused form as it was sent.
func postedOn(cells map[string]map[string]bool, fallback notify.Matrix) func(*notify.Type, notify.Channel) bool {
	return func(t *notify.Type, ch notify.Channel) bool {
		if v, ok := cells[t.Key][string(ch)]; ok {
			return v
		}
		return fallback.On(t.Key, ch)
	}
}

type notifySettingsData struct {
	Receive     bool
	EmailTiming string
	DigestTime  string
	Quiet       []quietDay
	PausedUntil string // datetime-local in the viewer's zone, "" for none
	Channels    []notify.ChannelState
	Matrix      matrixData
	IsAdmin     bool
	Telegram    *telegramView // nil: the channel is not configured
	Push        *pushView     // nil: browser push not configured and nothing subscribed
}

// quietDay is one weekday's row of the quiet-hours form: the page offers
// one span a day (the API takes up to two).
type quietDay struct {
	Day      int
	DayKey   string
	On       bool
	From, To string
}

// weekOrder lists the form's days Monday first.
var weekOrder = []int{1, 2, 3, 4, 5, 6, 0}

func quietDays(ranges []core.QuietRange) []quietDay {
	out := make([]quietDay, 0, 7)
	for _, day := range weekOrder {
		d := quietDay{Day: day, DayKey: "web.weekday." + strconv.Itoa(day), From: "22:00", To: "07:00"}
		for _, r := range ranges {
			if r.Day == day {
				d.On, d.From, d.To = true, r.From, r.To
				break
			}
		}
		out = append(out, d)
	}
	return out
}

// i18n keys of weekdays, for the catalog check.
var _ = []string{i18n.Key("web.weekday.0"), i18n.Key("web.weekday.1"), i18n.Key("web.weekday.2"), i18n.Key("web.weekday.3"),
	i18n.Key("web.weekday.4"), i18n.Key("web.weekday.5"), i18n.Key("web.weekday.6")}

// formQuiet reads the quiet-hours rows of the form.
func formQuiet(f url.Values) []core.QuietRange {
	out := []core.QuietRange{}
	for _, day := range weekOrder {
		d := strconv.Itoa(day)
		if formOn(f.Get("quiet_on_" + d)) {
			out = append(out, core.QuietRange{Day: day, From: f.Get("quiet_from_" + d), To: f.Get("quiet_to_" + d)})
		}
	}
	return out
}

const datetimeLocal = "2006-01-02T15:04"

func (h *Handler) notifications(w http.ResponseWriter, r *http.Request) {
	h.renderNotifySettings(w, r, nil)
}

// renderNotifySettings renders the page; with failed set it shows the
// error's messages at the fields and the form as posted.
func (h *Handler) renderNotifySettings(w http.ResponseWriter, r *http.Request, failed error) {
	ctx := r.Context()
	me := principalFrom(ctx).User
	s, err := h.deps.Notify.Settings(ctx, me)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	states, err := h.deps.Notify.ChannelStates(ctx, me)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := h.settingsView(r, notifySettingsURL, i18n.Key("web.notifications.title"))
	d := &notifySettingsData{Receive: s.Receive, EmailTiming: s.EmailTiming, DigestTime: s.DigestTime, Channels: states, IsAdmin: me.IsAdmin(),
		Quiet: quietDays(s.Quiet)}
	if d.Telegram, err = h.telegramState(w, r, me); err != nil {
		h.fail(w, r, err)
		return
	}
	if d.Push, err = h.pushState(ctx, me, v.Loc); err != nil {
		h.fail(w, r, err)
		return
	}
	if !s.PausedUntil.IsZero() {
		d.PausedUntil = s.PausedUntil.In(loadLocation(me.Timezone)).Format(datetimeLocal)
	}
	status := http.StatusOK
	on := func(t *notify.Type, ch notify.Channel) bool { return s.Cells.On(t.Key, ch) }
	if failed != nil {
		v.Flash = ""
		status = h.applyError(ctx, w, v, failed)
		for field, msg := range v.Fields {
			if strings.HasPrefix(field, "quiet_hours[") { // one message under the card
				v.Fields["quiet_hours"] = msg
			}
		}
		f := r.PostForm
		d.Receive = formOn(f.Get("receive"))
		d.EmailTiming, d.DigestTime = f.Get("email_timing"), f.Get("digest_time")
		d.Quiet, d.PausedUntil = quietDays(formQuiet(f)), f.Get("paused_until")
		on = postedOn(formMatrix(f), s.Cells)
	}
	d.Matrix = newMatrix(on, v.Fields)
	v.Data = d
	h.render(w, r, status, "notifications", v)
}

// saveNotifications saves the whole form at once: the master switch, the
// email timing and every switchable cell.
func (h *Handler) saveNotifications(w http.ResponseWriter, r *http.Request) {
	me := principalFrom(r.Context()).User
	if !h.parseForm(w, r) {
		return
	}
	f := r.PostForm
	receive := formOn(f.Get("receive"))
	in := notify.SettingsInput{Receive: &receive, Cells: formMatrix(f)}
	if f.Has("email_timing") {
		t := f.Get("email_timing")
		in.EmailTiming = &t
	}
	if f.Has("digest_time") {
		t := f.Get("digest_time")
		in.DigestTime = &t
	}
	if f.Has("paused_until") { // the quiet-hours card is on the form
		quiet := formQuiet(f)
		in.Quiet = &quiet
		var until time.Time
		if p := f.Get("paused_until"); p != "" {
			var err error
			if until, err = time.ParseInLocation(datetimeLocal, p, loadLocation(me.Timezone)); err != nil {
				var v core.Invalid
				v.Add("paused_until", "errors.notify.paused_until", nil)
				h.notifyFailed(w, r, v.Err(), h.renderNotifySettings)
				return
			}
		}
		in.PausedUntil = &until
	}
	if _, err := h.deps.Notify.SaveSettings(r.Context(), me, in); err != nil {
		h.notifyFailed(w, r, err, h.renderNotifySettings)
		return
	}
	redirect(w, r, notifySettingsURL+"?done=notify_saved")
}

// notifyFailed shows a refused save on its page, or as an error page when
// it is not something to fix there.
func (h *Handler) notifyFailed(w http.ResponseWriter, r *http.Request, err error, page func(http.ResponseWriter, *http.Request, error)) {
	if core.ErrorCode(err) == core.EINVALID {
		page(w, r, err)
		return
	}
	h.fail(w, r, err)
}

func (h *Handler) notifyDefaults(w http.ResponseWriter, r *http.Request) {
	h.renderNotifyDefaults(w, r, nil)
}

func (h *Handler) renderNotifyDefaults(w http.ResponseWriter, r *http.Request, failed error) {
	ctx := r.Context()
	me := principalFrom(ctx).User
	m, err := h.deps.Notify.WorkspaceDefaults(ctx, me)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := h.settingsView(r, notifySettingsURL, i18n.Key("web.notify_defaults.title"))
	status := http.StatusOK
	on := func(t *notify.Type, ch notify.Channel) bool { return m.On(t.Key, ch) }
	if failed != nil {
		v.Flash = ""
		status = h.applyError(ctx, w, v, failed)
		on = postedOn(formMatrix(r.PostForm), m)
	}
	v.Data = newMatrix(on, v.Fields)
	h.render(w, r, status, "notify_defaults", v)
}

func (h *Handler) saveNotifyDefaults(w http.ResponseWriter, r *http.Request) {
	me := principalFrom(r.Context()).User
	if !h.parseForm(w, r) {
		return
	}
	if _, err := h.deps.Notify.SaveWorkspaceDefaults(r.Context(), me, formMatrix(r.PostForm), clientIP(r)); err != nil {
		h.notifyFailed(w, r, err, h.renderNotifyDefaults)
		return
	}
	redirect(w, r, notifyDefaultsURL+"?done=notify_defaults_saved")
}

// ---- The notification centre --------------------------------------------

// categoryIcons are the sprite symbols of each category.
var categoryIcons = map[string]string{
	string(notify.CategoryCalls):    "call",
	string(notify.CategoryEmail):    "mail",
	string(notify.CategoryChats):    "chat",
	string(notify.CategoryLeads):    "funnel",
	string(notify.CategoryMessages): "message",
	string(notify.CategoryTasks):    "task",
	string(notify.CategorySystem):   "gear",
	string(notify.CategorySecurity): "shield",
}

func categoryIcon(c string) string {
	if s, ok := categoryIcons[c]; ok {
		return s
	}
	return "bell"
}

type centreFilter struct {
	Value, URL string
	Active     bool
}

type centreData struct {
	Items      []*core.Notification
	Deliveries map[int64][]*core.Delivery // by notification
	Unread     int64
	Category   string
	Filters    []centreFilter
	Before     int64
	OlderURL   string
	NewestURL  string // when this is not the first page
	Back       string // the query to come back to after a change
	CategoryOK bool
}

// centreQuery is the centre's URL with a filter and a page, keeping only
// what the page knows.
func centreQuery(category string, before int64, done string) string {
	q := url.Values{}
	if category != "" {
		q.Set("category", category)
	}
	if before > 0 {
		q.Set("before", strconv.FormatInt(before, 10))
	}
	if done != "" {
		q.Set("done", done)
	}
	if len(q) == 0 {
		return centreURL
	}
	return centreURL + "?" + q.Encode()
}

// centreParams reads the filter and page from q; an unknown category is
// left to the domain to refuse.
func centreParams(q url.Values) (category string, before int64) {
	before, _ = strconv.ParseInt(q.Get("before"), 10, 64)
	return q.Get("category"), max(before, 0)
}

func (h *Handler) centre(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	me := principalFrom(ctx).User
	category, before := centreParams(r.URL.Query())
	page, err := h.deps.Notify.List(ctx, me, before, category, notify.DefaultPage)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := h.settingsView(r, centreURL, i18n.Key("web.centre.title"))
	// The list's count was read with the page: keep the bell in step.
	v.Unread = page.Unread
	d := &centreData{Items: page.Items, Unread: page.Unread, Category: category, Before: before}
	if d.Deliveries, err = h.deps.Notify.DeliveriesOf(ctx, me, page.Items); err != nil {
		h.fail(w, r, err)
		return
	}
	d.Filters = append(d.Filters, centreFilter{Value: "", URL: centreQuery("", 0, ""), Active: category == ""})
	for _, c := range notify.Categories {
		d.Filters = append(d.Filters, centreFilter{Value: string(c), URL: centreQuery(string(c), 0, ""), Active: category == string(c)})
	}
	if page.Next > 0 {
		d.OlderURL = centreQuery(category, page.Next, "")
	}
	if before > 0 {
		d.NewestURL = centreQuery(category, 0, "")
	}
	q := url.Values{}
	if category != "" {
		q.Set("category", category)
	}
	if before > 0 {
		q.Set("before", strconv.FormatInt(before, 10))
	}
	d.Back = q.Encode()
	v.Data = d
	h.render(w, r, http.StatusOK, "centre", v)
}

// centreBack redirects to the centre page the form was sent from.
func centreBack(w http.ResponseWriter, r *http.Request, done string) {
	back, _ := url.ParseQuery(r.PostForm.Get("back"))
	category, before := centreParams(back)
	redirect(w, r, centreQuery(category, before, done))
}

func (h *Handler) setNotificationRead(read bool) http.HandlerFunc {
	done := "marked_unread"
	if read {
		done = "marked_read"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := h.pathID(w, r)
		if !ok || !h.parseForm(w, r) {
			return
		}
		if _, err := h.deps.Notify.SetRead(r.Context(), principalFrom(r.Context()).User, id, read); err != nil {
			h.fail(w, r, err)
			return
		}
		centreBack(w, r, done)
	}
}

func (h *Handler) readAllNotifications(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	if err := h.deps.Notify.ReadAll(r.Context(), principalFrom(r.Context()).User); err != nil {
		h.fail(w, r, err)
		return
	}
	centreBack(w, r, "all_read")
}

// pluralForms returns the raw plural forms of key in lang (English when
// lang lacks it) with {{.Count}} written as "#", as JSON for app.js, which
// picks the form with Intl.PluralRules: the same CLDR rules as the server.
func (h *Handler) pluralForms(lang, key string) string {
	m := h.deps.I18n.Message(lang, key)
	if m == nil {
		m = h.deps.I18n.Message(i18n.Fallback, key)
	}
	forms := map[string]string{}
	if m != nil {
		for k, s := range i18n.PluralForms(m) {
			forms[k] = strings.ReplaceAll(s, "{{.Count}}", "#")
		}
	}
	buf, _ := json.Marshal(forms)
	return string(buf)
}

// notifyKey joins parts into a key of the notify catalogs, such as
// notify.type.call.incoming.name, for names the catalogue defines.
func notifyKey(parts ...any) string {
	b := strings.Builder{}
	b.WriteString("notify")
	for _, p := range parts {
		b.WriteByte('.')
		b.WriteString(fmt.Sprint(p))
	}
	return b.String()
}

// badgeCount is the bell's badge: the count, or 99+ beyond 99.
func badgeCount(n int64) string {
	if n > 99 {
		return "99+"
	}
	return strconv.FormatInt(n, 10)
}

// noticeItem is one notification as the centre shows it; the zero one
// (from a nil notification) is the template app.js fills in for
// notifications that arrive while the page is open.
type noticeItem struct {
	ID               int64
	Unread           bool
	Icon             string
	URL, Title, Body string
	ISO, When, Back  string
	Deliveries       []deliveryLine // where it went, on the centre's page
}

// deliveryLine is one channel of a notification's deliveries, as catalog
// keys.
type deliveryLine struct {
	ChannelKey, StatusKey, ReasonKey string
}

func deliveryLines(ds []*core.Delivery) []deliveryLine {
	out := make([]deliveryLine, 0, len(ds))
	for _, d := range ds {
		l := deliveryLine{ChannelKey: "notify.channel." + d.Channel, StatusKey: "notify.status." + d.Status}
		if d.Reason != "" {
			l.ReasonKey = "notify.reason." + d.Reason
		}
		out = append(out, l)
	}
	return out
}

func newNoticeItem(lang string, n *core.Notification, loc *time.Location, back string) noticeItem {
	if n == nil {
		return noticeItem{Icon: "bell", Back: back}
	}
	return noticeItem{ID: n.ID, Unread: n.ReadAt.IsZero(), Icon: categoryIcon(n.Category), URL: n.URL, Title: n.Title,
		Body: n.Body, ISO: n.CreatedAt.UTC().Format(time.RFC3339), When: formatDateTime(lang, loc, n.CreatedAt), Back: back}
}

type unsubscribeData struct {
	Token string
	Type  string // the type's name in the page's language
	Done  bool
}

// unsubscribeForm asks before turning email off: a person clicking the
// link in a mail gets a button (mail scanners that open links change
// nothing).
func (h *Handler) unsubscribeForm(w http.ResponseWriter, r *http.Request) {
	h.unsubscribePage(w, r, false)
}

// unsubscribe turns email off for the link's person and type at once. It
// is also the RFC 8058 one-click POST a mail client sends with
// List-Unsubscribe=One-Click, without a sign-in.
func (h *Handler) unsubscribe(w http.ResponseWriter, r *http.Request) {
	h.unsubscribePage(w, r, true)
}

func (h *Handler) unsubscribePage(w http.ResponseWriter, r *http.Request, apply bool) {
	token := r.PathValue("token")
	read := h.deps.Notify.ReadUnsubscribe
	if apply {
		read = h.deps.Notify.Unsubscribe
	}
	u, t, err := read(r.Context(), token)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := h.pageFor(r, i18n.Key("web.unsubscribe.title"))
	h.speak(v, u.Language, "web.unsubscribe.title")
	v.Data = unsubscribeData{Token: token, Type: h.loc(v.Lang).T("notify.type." + t.Key + ".name"), Done: apply}
	h.render(w, r, http.StatusOK, "unsubscribe", v)
}
