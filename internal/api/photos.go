package api

import (
	"bytes"
	"context"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"roster/internal/core"
	"roster/internal/photo"
)

// photoTypes are the Content-Types a photo upload may carry. The format is
// read from the content, never from this header; it only keeps clients
// from sending JSON or a form here by mistake.
var photoTypes = []string{"image/jpeg", "image/png", "image/gif", "image/webp", "application/octet-stream"}

type photoMeInput struct {
	RawBody []byte `contentType:"application/octet-stream"`
}

type photoUserInput struct {
	ID      int64  `path:"id" minimum:"1"`
	RawBody []byte `contentType:"application/octet-stream"`
}

type servePhotoInput struct {
	ID      int64 `path:"id" minimum:"1"`
	Version int64 `path:"version" minimum:"1" doc:"The photo's version, from the user's photo URLs. Only the current version is served."`
	Size    int   `path:"size" doc:"Side in pixels: 48, 128 or 512; other sizes are 404."`
}

const photoDoc = "The request body is the image itself: JPEG, PNG, GIF (first frame) or WebP, at most 10 MB and " +
	"40 megapixels. The format is recognised by its content, whatever the Content-Type says; anything else is 422 " +
	"with an error at `body`. Larger bodies are 413. The photo is cropped to a centred square, its metadata is " +
	"removed, and it is stored in 48, 128 and 512 pixel sizes under new URLs."

func (a *API) registerPhotos() {
	putErrs := []int{http.StatusForbidden, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity}
	huma.Register(a.humaAPI, a.photoUpload(huma.Operation{
		OperationID: "set-my-photo",
		Path:        "/me/photo",
		Summary:     "Upload my photo",
		Description: photoDoc,
		Errors:      putErrs,
	}), func(ctx context.Context, in *photoMeInput) (*userOutput, error) {
		return a.setPhoto(ctx, principal(ctx).User.ID, in.RawBody)
	})
	huma.Register(a.humaAPI, a.photoUpload(huma.Operation{
		OperationID: "set-user-photo",
		Path:        "/users/{id}/photo",
		Summary:     "Upload a user's photo",
		Description: photoDoc + othersNote,
		Errors:      append(putErrs, http.StatusNotFound),
	}), func(ctx context.Context, in *photoUserInput) (*userOutput, error) {
		return a.setPhoto(ctx, in.ID, in.RawBody)
	})

	removeDoc := "Removes the photo; generated initials show instead, and photo becomes null."
	huma.Register(a.humaAPI, a.profileOp(huma.Operation{
		OperationID: "remove-my-photo",
		Method:      http.MethodDelete,
		Path:        "/me/photo",
		Summary:     "Remove my photo",
		Description: removeDoc,
		Tags:        []string{tagProfile},
	}), func(ctx context.Context, _ *struct{}) (*userOutput, error) {
		return a.removePhoto(ctx, principal(ctx).User.ID)
	})
	huma.Register(a.humaAPI, a.profileOp(huma.Operation{
		OperationID: "remove-user-photo",
		Method:      http.MethodDelete,
		Path:        "/users/{id}/photo",
		Summary:     "Remove a user's photo",
		Description: removeDoc + othersNote,
		Tags:        []string{tagProfile},
		Errors:      []int{http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity},
	}), func(ctx context.Context, in *userIDInput) (*userOutput, error) {
		return a.removePhoto(ctx, in.ID)
	})

	huma.Register(a.humaAPI, a.profileOp(huma.Operation{
		OperationID: "get-user-photo",
		Method:      http.MethodGet,
		Path:        "/users/{id}/photo/{version}/{size}",
		Summary:     "A user's photo",
		Description: "The JPEG behind a URL of a user's photo object, for any user of the caller's workspace. " +
			"URLs change with every new photo, so answers may be cached for a year; they carry an ETag and " +
			"If-None-Match gives 304. A replaced version, a size other than 48, 128 or 512, or another " +
			"workspace's user is 404.",
		Tags:   []string{tagProfile},
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
		Responses: map[string]*huma.Response{
			"200": {
				Description: "The photo.",
				Content:     map[string]*huma.MediaType{"image/jpeg": {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}},
				Headers: map[string]*huma.Param{
					"ETag":          {Schema: &huma.Schema{Type: huma.TypeString}},
					"Cache-Control": {Schema: &huma.Schema{Type: huma.TypeString}, Example: photo.CacheControl},
				},
			},
			"304": {Description: "Not modified: If-None-Match named this photo's ETag."},
		},
	}), a.servePhoto)
}

// photoUpload fills the parts the two upload operations share: the body is
// the image, up to photo.MaxUploadBytes, in one of photoTypes.
func (a *API) photoUpload(o huma.Operation) huma.Operation {
	o.Method = http.MethodPut
	o.Tags = []string{tagProfile}
	binary := func() *huma.MediaType {
		return &huma.MediaType{Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}
	}
	o.RequestBody = &huma.RequestBody{
		Description: "The image file.",
		Required:    true,
		Content:     map[string]*huma.MediaType{},
	}
	for _, t := range photoTypes {
		o.RequestBody.Content[t] = binary()
	}
	o.Middlewares = append(o.Middlewares, a.onlyPhotoTypes)
	o = a.profileOp(o)
	// One more byte than allowed, as in op.
	o.MaxBodyBytes = photo.MaxUploadBytes + 1
	return o
}

// onlyPhotoTypes refuses an upload with another Content-Type with 415
// before its body is read. No Content-Type at all is fine.
func (a *API) onlyPhotoTypes(ctx huma.Context, next func(huma.Context)) {
	if ct := ctx.Header("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !slices.Contains(photoTypes, mt) {
			_, w := humago.Unwrap(ctx)
			writeProblem(w, problem(a.localizer(ctx.Context()), http.StatusUnsupportedMediaType, keyPhotoType,
				map[string]any{"Types": strings.Join(photoTypes, ", ")}))
			return
		}
	}
	next(ctx)
}

func (a *API) setPhoto(ctx context.Context, targetID int64, body []byte) (*userOutput, error) {
	p, err := a.deps.Profiles.SetPhoto(ctx, principal(ctx).User, targetID, bytes.NewReader(body))
	return a.profileOutput(ctx, p, err)
}

func (a *API) removePhoto(ctx context.Context, targetID int64) (*userOutput, error) {
	p, err := a.deps.Profiles.RemovePhoto(ctx, principal(ctx).User, targetID)
	return a.profileOutput(ctx, p, err)
}

func (a *API) servePhoto(ctx context.Context, in *servePhotoInput) (*huma.StreamResponse, error) {
	if !slices.Contains(photo.Sizes, in.Size) {
		return nil, a.fail(ctx, core.ErrNotFound)
	}
	if _, err := a.deps.Profiles.ServePhoto(ctx, principal(ctx).User, in.ID, in.Version); err != nil {
		return nil, a.fail(ctx, err)
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		r, w := humago.Unwrap(hctx)
		a.deps.Profiles.Photos().ServePhoto(w, r, in.ID, in.Version, in.Size)
	}}, nil
}
