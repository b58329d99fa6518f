package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"roster/internal/core"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

const apnsHexToken = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"

// TestDevicesAPI: the app registers, lists and removes its devices; bad
// input is 422 with translated field errors and stores nothing; a device
// of another person or of another workspace is 404 and stays.
func TestDevicesAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, envOpts{deps: roomy})
		e.user("Acme", "Bo", "bo@example.com", core.RoleUser)
		e.user("Globex", "Cy", "cy@globex.example", core.RoleAdmin) // another workspace
		ada, bo, cy := e.login("ada@example.com"), e.login("bo@example.com"), e.login("cy@globex.example")

		for _, c := range []struct {
			body   string
			fields []string
		}{
			{`{"platform":"windows","token":"abc"}`, []string{"body.platform"}},
			{`{"platform":"android","token":""}`, []string{"body.token"}},
			{`{"platform":"android","token":"` + strings.Repeat("a", 1025) + `"}`, []string{"body.token"}},
			{`{"platform":"ios","token":"a b"}`, []string{"body.token"}},
			{`{"platform":"android","token":"abc","locale":"de"}`, []string{"body.locale"}},
			{`{"platform":"x","token":"","locale":"zz"}`, []string{"body.platform", "body.token", "body.locale"}},
		} {
			p := e.do("POST", "/me/devices", c.body, bearer(ada), lang("es")).problem(http.StatusUnprocessableEntity)
			if len(p.Errors) != len(c.fields) {
				t.Fatalf("%s: %+v", c.body, p.Errors)
			}
			for i, f := range c.fields {
				if p.Errors[i].Location != f || p.Errors[i].Message == "" || strings.Contains(p.Errors[i].Message, "mobile.") {
					t.Errorf("%s: error %d is %+v, want %s", c.body, i, p.Errors[i], f)
				}
			}
		}
		if p := e.do("POST", "/me/devices", `{"platform":"windows","token":"abc"}`, bearer(ada)).problem(422); p.Errors[0].Message != e.msg("en", "mobile.error.platform", nil) {
			t.Fatalf("not translated: %+v", p.Errors)
		}
		if items := e.do("GET", "/me/devices", "", bearer(ada)).status(200).json()["items"].([]any); len(items) != 0 {
			t.Fatalf("a refused registration stored %v", items)
		}

		dev := e.do("POST", "/me/devices", `{"platform":"ios","token":"`+apnsHexToken+`","app_version":"3.2.1","locale":"pt-PT"}`, bearer(ada)).status(200).json()
		id := int64(dev["id"].(float64))
		if dev["platform"] != "ios" || dev["provider"] != "apns" || dev["locale"] != "pt-BR" || dev["app_version"] != "3.2.1" || dev["last_used_at"] != nil || dev["token"] != nil {
			t.Fatalf("registered: %v", dev)
		}
		again := e.do("POST", "/me/devices", `{"platform":"ios","token":"`+apnsHexToken+`","app_version":"3.3.0"}`, bearer(ada)).status(200).json()
		if int64(again["id"].(float64)) != id || again["app_version"] != "3.3.0" {
			t.Fatalf("registered again: %v", again)
		}
		bos := int64(e.do("POST", "/me/devices", `{"platform":"android","token":"bo:APA91b"}`, bearer(bo)).status(200).json()["id"].(float64))
		cys := int64(e.do("POST", "/me/devices", `{"platform":"android","token":"cy:APA91b"}`, bearer(cy)).status(200).json()["id"].(float64))

		items := e.do("GET", "/me/devices", "", bearer(ada)).status(200).json()["items"].([]any)
		if len(items) != 1 || int64(items[0].(map[string]any)["id"].(float64)) != id {
			t.Fatalf("Ada's devices: %v", items)
		}
		// Another person's device, another workspace's: 404, and they stay.
		for _, other := range []int64{bos, cys} {
			e.do("DELETE", fmt.Sprintf("/me/devices/%d", other), "", bearer(ada)).problem(http.StatusNotFound)
		}
		e.do("DELETE", fmt.Sprintf("/me/devices/%d", id), "", bearer(cy)).problem(http.StatusNotFound)
		if n := len(e.do("GET", "/me/devices", "", bearer(bo)).json()["items"].([]any)); n != 1 {
			t.Fatalf("Bo has %d devices", n)
		}
		if n := len(e.do("GET", "/me/devices", "", bearer(cy)).json()["items"].([]any)); n != 1 {
			t.Fatalf("Cy has %d devices", n)
		}
		e.do("DELETE", fmt.Sprintf("/me/devices/%d", id), "", bearer(ada)).status(http.StatusNoContent)
		e.do("DELETE", fmt.Sprintf("/me/devices/%d", id), "", bearer(ada)).problem(http.StatusNotFound)
		// The phone passes to Cy, in the other workspace: it leaves Bo.
		e.do("POST", "/me/devices", `{"platform":"android","token":"bo:APA91b"}`, bearer(cy)).status(200)
		if n := len(e.do("GET", "/me/devices", "", bearer(bo)).json()["items"].([]any)); n != 0 {
			t.Fatalf("Bo kept a device Cy registered: %d", n)
		}
		e.do("GET", "/me/devices", "").problem(http.StatusUnauthorized)
	})
}
