package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"roster/internal/core"
	"roster/internal/notify/mobile"
)

// Device is an install of the mobile app that gets the caller's push
// notifications. The token is not shown back.
type Device struct {
	ID           int64      `json:"id"`
	Platform     string     `json:"platform" enum:"android,ios"`
	Provider     string     `json:"provider" enum:"fcm,apns" doc:"The push service the token belongs to: fcm for Android and for iOS apps built with the Firebase SDK (their tokens are FCM registration tokens), apns for an iOS app's own APNs device token (hexadecimal)."`
	AppVersion   string     `json:"app_version"`
	Locale       string     `json:"locale" doc:"The supported language matched to the locale sent; empty when none was sent."`
	CreatedAt    time.Time  `json:"created_at" doc:"When the token was first registered."`
	RegisteredAt time.Time  `json:"registered_at" doc:"The last registration of the token."`
	LastUsedAt   *time.Time `json:"last_used_at" nullable:"true" doc:"The last notification it took; null for none yet."`
}

func toDevice(d *core.MobileDevice) *Device {
	return &Device{ID: d.ID, Platform: d.Platform, Provider: d.Provider, AppVersion: d.AppVersion, Locale: d.Locale,
		CreatedAt: d.CreatedAt.UTC(), RegisteredAt: d.RegisteredAt.UTC(), LastUsedAt: optTime(d.LastUsedAt)}
}

type registerDeviceInput struct {
	Body struct {
		Platform   string `json:"platform" doc:"android or ios."`
		Token      string `json:"token" doc:"The push token the app got from FCM (Android, or iOS with the Firebase SDK) or APNs (iOS: the device token in hexadecimal). Up to 1024 characters: letters, digits, - _ : and ."`
		AppVersion string `json:"app_version,omitempty" doc:"Up to 64 characters."`
		Locale     string `json:"locale,omitempty" doc:"The device's language as a BCP 47 tag (es-MX); it must match one of Roster's languages (en, es, pt-BR, id, tr, ru)."`
	}
}

type deviceOutput struct{ Body *Device }

type devicesOutput struct {
	Body struct {
		Items []*Device `json:"items" nullable:"false"`
	}
}

type deviceIDInput struct {
	ID int64 `path:"id" minimum:"1"`
}

func (a *API) registerDevices() {
	tags := []string{"Devices"}
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "register-my-device", Method: http.MethodPost, Path: "/me/devices",
		Summary: "Register the mobile app for push notifications",
		Description: "The app calls this after sign-in and whenever its push token changes. A token registered before (by this or " +
			"any other account) keeps its one device record, which moves to the caller: the last account signed in on a phone " +
			"gets its notifications. Bad input is 422 with field errors and changes nothing.",
		Tags: tags, Security: signedIn, Errors: []int{http.StatusUnprocessableEntity}}), a.registerDevice)
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "list-my-devices", Method: http.MethodGet, Path: "/me/devices",
		Summary: "My registered mobile devices, the last registered first", Tags: tags, Security: signedIn}), a.listDevices)
	huma.Register(a.humaAPI, a.op(huma.Operation{OperationID: "remove-my-device", Method: http.MethodDelete, Path: "/me/devices/{id}",
		Summary: "Stop push notifications to one of my devices", Description: "Devices of other people do not exist for the caller (404).",
		Tags: tags, Security: signedIn, DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound}}), a.removeDevice)
}

func (a *API) registerDevice(ctx context.Context, in *registerDeviceInput) (*deviceOutput, error) {
	d, err := a.deps.Devices.Register(ctx, principal(ctx).User, mobile.RegisterInput{Platform: in.Body.Platform, Token: in.Body.Token,
		AppVersion: in.Body.AppVersion, Locale: in.Body.Locale})
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return &deviceOutput{Body: toDevice(d)}, nil
}

func (a *API) listDevices(ctx context.Context, _ *struct{}) (*devicesOutput, error) {
	list, err := a.deps.Devices.List(ctx, principal(ctx).User)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	out := &devicesOutput{}
	out.Body.Items = make([]*Device, 0, len(list))
	for _, d := range list {
		out.Body.Items = append(out.Body.Items, toDevice(d))
	}
	return out, nil
}

func (a *API) removeDevice(ctx context.Context, in *deviceIDInput) (*struct{}, error) {
	if err := a.deps.Devices.Remove(ctx, principal(ctx).User, in.ID); err != nil {
		return nil, a.fail(ctx, err)
	}
	return nil, nil
}
