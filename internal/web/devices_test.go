package web

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"roster/internal/core"
	"roster/internal/notify/mobile"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// TestDevicesOnSecurityPage: the security page lists the person's mobile
// devices, in their language, each with a remove form that works without
// script; another person's device cannot be removed.
func TestDevicesOnSecurityPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		admin := e.setup("es")
		bo := e.createUser("Acme", "Bo", "bo@acme.test", core.RoleUser)
		cookie := e.login("ada@acme.test")
		w := e.get("/settings/security", cookie)
		wantStatus(t, w, http.StatusOK)
		wantContains(t, w, "Dispositivos móviles", `id="no-devices"`)

		devices := e.h.deps.Devices
		phone, err := devices.Register(ctx, admin, mobile.RegisterInput{Platform: "ios", Token: "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9", AppVersion: "3.2.1"})
		if err != nil {
			t.Fatal(err)
		}
		bos, err := devices.Register(ctx, bo, mobile.RegisterInput{Platform: "android", Token: "bo-token:APA91b"})
		if err != nil {
			t.Fatal(err)
		}
		w = e.get("/settings/security", cookie)
		wantContains(t, w, "iPhone o iPad", "3.2.1", "Nunca", fmt.Sprintf(`action="/settings/security/devices/%d/remove"`, phone.ID))
		wantNotContains(t, w, `id="no-devices"`, fmt.Sprintf("/devices/%d/remove", bos.ID))

		// Bo's device is not Ada's to remove.
		wantStatus(t, e.post(fmt.Sprintf("/settings/security/devices/%d/remove", bos.ID), cookie, nil), http.StatusNotFound)
		if list, _ := devices.List(ctx, bo); len(list) != 1 {
			t.Fatal("Bo's device was removed by Ada")
		}
		w = e.post(fmt.Sprintf("/settings/security/devices/%d/remove", phone.ID), cookie, nil)
		wantRedirect(t, w, http.StatusSeeOther, "/settings/security?done=device_removed#devices")
		w = e.get("/settings/security?done=device_removed", cookie)
		wantContains(t, w, "Se quitó el dispositivo", `id="no-devices"`)
	})
}
