package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"roster/internal/core"
	"roster/internal/i18n"
	"roster/internal/notify"
)

// The delivery log (admins): the workspace's deliveries by person,
// channel and status, with the last error, and a button that sends a
// failed one again.

const deliveriesURL = "/settings/deliveries"

const deliveriesPageSize = 50

type deliveriesData struct {
	Users    []*core.User
	Channels []string
	Statuses []string
	UserID   int64
	Channel  string
	Status   string
	Rows     []*notify.LoggedDelivery
	OlderURL string
	Back     string // this page's query, to come back to after a retry
}

func deliveriesQuery(q url.Values) notify.DeliveryFilter {
	f := notify.DeliveryFilter{Channel: q.Get("channel"), Status: q.Get("status")}
	f.UserID, _ = strconv.ParseInt(q.Get("user"), 10, 64)
	f.Before, _ = strconv.ParseInt(q.Get("before"), 10, 64)
	return f
}

func (h *Handler) deliveriesPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	me := principalFrom(ctx).User
	f := deliveriesQuery(r.URL.Query())
	rows, err := h.deps.Notify.DeliveryLog(ctx, me, f, deliveriesPageSize+1)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	users, err := h.workspaceUsers(r, me)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := h.settingsView(r, deliveriesURL, i18n.Key("web.deliveries.title"))
	d := &deliveriesData{Users: users, UserID: f.UserID, Channel: f.Channel, Status: f.Status,
		Statuses: []string{core.DeliveryQueued, core.DeliverySent, core.DeliveryFailed, core.DeliverySkipped}}
	for _, ch := range notify.Channels {
		if ch != notify.InApp {
			d.Channels = append(d.Channels, string(ch))
		}
	}
	keep := url.Values{}
	if f.UserID > 0 {
		keep.Set("user", strconv.FormatInt(f.UserID, 10))
	}
	if f.Channel != "" {
		keep.Set("channel", f.Channel)
	}
	if f.Status != "" {
		keep.Set("status", f.Status)
	}
	if len(rows) > deliveriesPageSize {
		rows = rows[:deliveriesPageSize]
		older := url.Values{}
		for k, vs := range keep {
			older[k] = vs
		}
		older.Set("before", strconv.FormatInt(rows[len(rows)-1].ID, 10))
		d.OlderURL = deliveriesURL + "?" + older.Encode()
	}
	if f.Before > 0 {
		keep.Set("before", strconv.FormatInt(f.Before, 10))
	}
	d.Rows, d.Back = rows, keep.Encode()
	v.Data = d
	h.render(w, r, http.StatusOK, "deliveries", v)
}

// retryDelivery queues a failed delivery again and goes back to the page
// it was asked from.
func (h *Handler) retryDelivery(w http.ResponseWriter, r *http.Request) {
	me := principalFrom(r.Context()).User
	if !h.parseForm(w, r) {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		h.fail(w, r, core.ErrNotFound)
		return
	}
	if _, err := h.deps.Notify.RetryDelivery(r.Context(), me, id); err != nil {
		h.fail(w, r, err)
		return
	}
	back, _ := url.ParseQuery(r.PostForm.Get("back"))
	f := deliveriesQuery(back) // only the filter's own fields go back
	q := url.Values{"done": {"delivery_retried"}}
	if f.UserID > 0 {
		q.Set("user", strconv.FormatInt(f.UserID, 10))
	}
	for k, v := range map[string]string{"channel": f.Channel, "status": f.Status} {
		if v != "" && !strings.ContainsAny(v, "\r\n") {
			q.Set(k, v)
		}
	}
	if f.Before > 0 {
		q.Set("before", strconv.FormatInt(f.Before, 10))
	}
	redirect(w, r, deliveriesURL+"?"+q.Encode())
}
