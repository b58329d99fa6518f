package web

import (
	"context"
	_ "embed"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"roster/internal/core"
	"roster/internal/i18n"
)

// PushSubscriptions are the browsers that get a person's push
// notifications (internal/notify/webpush implements it).
type PushSubscriptions interface {
	List(ctx context.Context, u *core.User) ([]core.PushSubscription, error)
	Remove(ctx context.Context, u *core.User, id int64) error
}

// pushView is the browser push part of the channel list.
type pushView struct {
	// Key is the server's VAPID public key, for the page's script to
	// subscribe with; "" when browser push is not configured.
	Key      string
	Browsers []core.PushSubscription
	Loc      *time.Location // the viewer's zone, for the dates
}

func init() {
	flashes["push_removed"] = i18n.Key("push.removed")
}

// pushState is the viewer's subscribed browsers; nil when browser push is
// neither configured nor has anything to list.
func (h *Handler) pushState(ctx context.Context, me *core.User, loc *time.Location) (*pushView, error) {
	if h.deps.Push == nil {
		return nil, nil
	}
	list, err := h.deps.Push.List(ctx, me)
	if err != nil {
		return nil, err
	}
	if h.deps.PushKey == "" && len(list) == 0 {
		return nil, nil
	}
	return &pushView{Key: h.deps.PushKey, Browsers: list, Loc: loc}, nil
}

// removePushSubscription stops push notifications to one of the viewer's
// browsers (any of them, not only this one: the form needs no script).
func (h *Handler) removePushSubscription(w http.ResponseWriter, r *http.Request) {
	if h.deps.Push == nil {
		h.fail(w, r, core.ErrNotFound)
		return
	}
	id, ok := h.pathID(w, r)
	if !ok {
		return
	}
	if !h.parseForm(w, r) {
		return
	}
	if err := h.deps.Push.Remove(r.Context(), principalFrom(r.Context()).User, id); err != nil {
		h.fail(w, r, err)
		return
	}
	redirect(w, r, notifySettingsURL+"?done=push_removed#channels")
}

//go:embed worker/sw.js
var serviceWorkerJS string

// serveWorker serves the service worker at the site's root, so its scope
// is every page. It is never cached long: browsers check it for updates
// on navigation, and a new release must reach them.
func (h *Handler) serveWorker(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/javascript; charset=utf-8")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write([]byte(h.workerJS))
}

// manifest is the web app manifest: with the service worker it makes
// Roster installable, so a phone without the mobile app gets push
// notifications through the installed web app.
type manifest struct {
	Name            string         `json:"name"`
	ShortName       string         `json:"short_name"`
	ID              string         `json:"id"`
	StartURL        string         `json:"start_url"`
	Scope           string         `json:"scope"`
	Display         string         `json:"display"`
	BackgroundColor string         `json:"background_color"`
	ThemeColor      string         `json:"theme_color"`
	Icons           []manifestIcon `json:"icons"`
}

type manifestIcon struct {
	Src     string `json:"src"`
	Sizes   string `json:"sizes"`
	Type    string `json:"type"`
	Purpose string `json:"purpose"`
}

// themeColor is --accent of app.css, the top bar's logo.
const themeColor = "#2f5bea"

func (h *Handler) buildManifest() ([]byte, error) {
	m := manifest{Name: "Roster", ShortName: "Roster", ID: "/", StartURL: "/notifications", Scope: "/", Display: "standalone",
		BackgroundColor: "#f6f7f9", ThemeColor: themeColor, Icons: []manifestIcon{
			{Src: h.static.url("icon-192.png"), Sizes: "192x192", Type: "image/png", Purpose: "any"},
			{Src: h.static.url("icon-512.png"), Sizes: "512x512", Type: "image/png", Purpose: "any"},
			{Src: h.static.url("icon-maskable-512.png"), Sizes: "512x512", Type: "image/png", Purpose: "maskable"},
		}}
	return json.Marshal(m)
}

func (h *Handler) serveManifest(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Type", "application/manifest+json")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(h.manifest)
}

// workerSource fills the icons' hashed URLs into the service worker.
func (h *Handler) workerSource() string {
	return strings.NewReplacer("{{ICON}}", h.static.url("icon-192.png"), "{{BADGE}}", h.static.url("badge-96.png")).Replace(serviceWorkerJS)
}
