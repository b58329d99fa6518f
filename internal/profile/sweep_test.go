package profile_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"slices"
	"testing"
	"time"

	"roster/internal/httpx"
	"roster/internal/photo"
	"roster/internal/profile"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// TestSweepPhotosDeletesOnlyStrays: the sweep deletes stored versions that
// are no one's photo and older than StrayGrace (an upload cut off before
// it was recorded, a replaced photo left behind, the photo of a person who
// is gone); it keeps every current photo however old, and a young stray,
// which may be an upload in flight.
func TestSweepPhotosDeletesOnlyStrays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		buf := bytes.NewBuffer(pngOf(color.RGBA{30, 200, 30, 255}))
		now := f.now
		f.now = now.Add(-48 * time.Hour) // an old current photo
		p, err := f.prof.SetPhoto(ctx, f.plain, f.plain.ID, bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		f.now = now
		current := p.User.PhotoVersion
		res, err := photo.Process(ctx, bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		put := func(user int64, at time.Time) photo.StoredVersion {
			v := photo.StoredVersion{UserID: user, Version: at.UnixMilli()}
			if err := f.prof.Photos().PutPhoto(ctx, user, v.Version, res.Images); err != nil {
				t.Fatal(err)
			}
			return v
		}
		oldStray := put(f.plain.ID, now.Add(-time.Hour))
		youngStray := put(f.plain.ID, now.Add(-time.Minute))
		gone := put(987654, now.Add(-2*time.Hour))
		justOld := put(f.access.ID, now.Add(-profile.StrayGrace-time.Second))

		n, err := f.prof.SweepPhotos(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		var left []photo.StoredVersion
		if err := f.prof.Photos().Versions(ctx, func(v photo.StoredVersion) error { left = append(left, v); return nil }); err != nil {
			t.Fatal(err)
		}
		want := []photo.StoredVersion{{UserID: f.plain.ID, Version: current}, youngStray}
		has := func(v photo.StoredVersion) bool { return slices.Contains(left, v) }
		if n != 3 || len(left) != 2 || !has(want[0]) || !has(want[1]) || has(oldStray) || has(gone) || has(justOld) {
			t.Fatalf("swept %d; left %v, want %v", n, left, want)
		}
		if rc, _, err := f.prof.Photos().OpenPhoto(ctx, f.plain.ID, current, 128); err != nil {
			t.Fatalf("the current photo after the sweep: %v", err)
		} else {
			rc.Close()
		}
	})
}

// pngOf is a 64×40 PNG of one colour.
func pngOf(c color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 40))
	for x := range 64 {
		for y := range 40 {
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}

// TestStrayGraceOutlastsAnUpload: the sweep must never take the files of
// an upload still in flight; an upload's whole answer is bounded by its
// write deadline, which StrayGrace must outlast with room to spare.
func TestStrayGraceOutlastsAnUpload(t *testing.T) {
	if up := httpx.DefaultTimeouts.UploadWrite; profile.StrayGrace < 2*up {
		t.Fatalf("StrayGrace %v is not twice an upload's write deadline %v", profile.StrayGrace, up)
	}
}
