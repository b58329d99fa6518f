// Package photo turns uploaded profile photos into small square JPEGs and
// keeps them in blob storage (a folder, S3-compatible storage, or memory).
//
// Decisions:
//
//   - The format is detected from the first bytes only (JPEG, PNG, GIF,
//     WebP); the file name and Content-Type are never trusted. Each format's
//     own decoder is called directly, so formats registered elsewhere in the
//     binary (image.RegisterFormat) are never reachable from an upload.
//   - The header is read first and width*height is checked against
//     MaxPixels before decoding, so a decompression bomb is refused without
//     allocating its pixels. A zero or negative dimension counts as corrupt.
//   - The memory the decode and scaling will take is estimated from the
//     header too (pixels × bytes per pixel of the declared colour model, the
//     decoder's working buffers, the scaler's) and refused above
//     MaxDecodeBytes, so a small 16-bit or progressive file cannot take
//     hundreds of MB.
//   - At most decodeSlots uploads are decoded at once; others wait up to
//     SlotWait (or until their context ends) and are then told the server is
//     busy (EUNAVAILABLE, 503 with Retry-After), so a burst of uploads
//     neither piles up memory nor holds requests for long.
//   - A panic in a decoder is recovered and reported as a corrupt image.
//   - The centre square of the image is kept. It is cropped in stored
//     coordinates, then the EXIF orientation of JPEGs is applied to the
//     512-pixel result: a centred crop commutes with rotations and flips
//     (up to one pixel for odd margins), and rotating 512x512 pixels is much
//     cheaper than rotating the full image. Only JPEG orientation is read;
//     PNG, GIF and WebP are used as stored.
//   - Every size in Sizes is always produced, scaling small sources up, so
//     clients never have to handle a missing size. CatmullRom is used for
//     the largest size from the source, and again from that for the smaller
//     ones.
//   - Transparency is flattened onto white and every size is re-encoded as
//     a baseline JPEG at quality 85. Re-encoding drops all metadata (EXIF,
//     GPS, comments, ICC profiles), which is the point: nothing of the
//     original file is ever served.
//   - Errors for bad uploads are *core.Error with code EINVALID and one
//     field error on Field; read errors of r itself are returned wrapped
//     (an *http.MaxBytesError counts as too large).
package photo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"time"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/webp"

	"roster/internal/core"
	"roster/internal/i18n"
)

// Sizes are the stored square sizes, largest first.
var Sizes = []int{512, 128, 48}

const (
	// MaxUploadBytes is the largest accepted upload.
	MaxUploadBytes = 10 << 20
	// MaxPixels is the largest accepted decoded image, in pixels.
	MaxPixels = 40_000_000
	// JPEGQuality is the quality of the stored JPEGs.
	JPEGQuality = 85
	// Field is the form field that upload errors are reported on.
	Field = "photo"
)

// Message keys of the field errors Process returns.
var (
	KeyTooLarge      = i18n.Key("errors.photo.too_large")
	KeyUnsupported   = i18n.Key("errors.photo.unsupported")
	KeyTooManyPixels = i18n.Key("errors.photo.too_many_pixels")
	KeyCorrupt       = i18n.Key("errors.photo.corrupt")
	KeyEmpty         = i18n.Key("errors.photo.empty")
	KeyTooDeep       = i18n.Key("errors.photo.too_much_memory")
	KeyBusy          = i18n.Key("errors.photo.busy")
)

// Result is a processed photo.
type Result struct {
	Images       map[int][]byte // size -> JPEG, one for each of Sizes
	SourceWidth  int            // of the decoded image, as displayed (after EXIF orientation)
	SourceHeight int
}

// decodeSlots is how many images are decoded at once; see the package doc.
const decodeSlots = 2

// SlotWait is how long an upload waits for a decode slot before it is told
// to retry.
const SlotWait = 5 * time.Second

var (
	slots    = make(chan struct{}, decodeSlots)
	slotWait = SlotWait // tests shorten it
)

type codec struct {
	name   string
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

var (
	codecJPEG = codec{"jpeg", jpeg.DecodeConfig, jpeg.Decode}
	codecPNG  = codec{"png", png.DecodeConfig, png.Decode}
	codecGIF  = codec{"gif", gif.DecodeConfig, gif.Decode} // gif.Decode returns the first frame
	codecWebP = codec{"webp", webp.DecodeConfig, webp.Decode}
)

// sniff picks the decoder by magic bytes, or returns false.
func sniff(b []byte) (codec, bool) {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return codecJPEG, true
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return codecPNG, true
	case bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a")):
		return codecGIF, true
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return codecWebP, true
	}
	return codec{}, false
}

// invalid returns the EINVALID error for a bad upload.
func invalid(key string, data map[string]any, cause error) *core.Error {
	return &core.Error{
		Code:   core.EINVALID,
		Key:    "errors.invalid",
		Fields: []core.FieldError{{Field: Field, Key: key, Data: data}},
		Err:    cause,
	}
}

func tooLarge(cause error) *core.Error {
	return invalid(KeyTooLarge, map[string]any{"Count": MaxUploadBytes >> 20}, cause)
}

// Process reads an upload from r (at most MaxUploadBytes+1 bytes) and
// returns it as square JPEGs of every size in Sizes. See the package doc
// for what is accepted and how.
func Process(ctx context.Context, r io.Reader) (*Result, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxUploadBytes+1))
	if err != nil {
		if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge(mbe)
		}
		return nil, fmt.Errorf("photo: read upload: %w", err)
	}
	if len(data) == 0 {
		return nil, invalid(KeyEmpty, nil, nil)
	}
	if len(data) > MaxUploadBytes {
		return nil, tooLarge(nil)
	}
	c, ok := sniff(data)
	if !ok {
		return nil, invalid(KeyUnsupported, nil, nil)
	}
	wait := time.NewTimer(slotWait)
	defer wait.Stop()
	select {
	case slots <- struct{}{}:
		defer func() { <-slots }()
	case <-wait.C:
		return nil, &core.Error{Code: core.EUNAVAILABLE, Key: KeyBusy, RetryAfter: SlotWait,
			Err: errors.New("photo: every decode slot is busy")}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return process(ctx, c, data)
}

func process(ctx context.Context, c codec, data []byte) (res *Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, invalid(KeyCorrupt, nil, fmt.Errorf("photo: %s decoder panicked: %v", c.name, p))
		}
	}()
	cfg, err := c.config(bytes.NewReader(data))
	if err != nil {
		return nil, invalid(KeyCorrupt, nil, fmt.Errorf("photo: %s header: %w", c.name, err))
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, invalid(KeyCorrupt, nil, fmt.Errorf("photo: %s size %dx%d", c.name, cfg.Width, cfg.Height))
	}
	if tooManyPixels(cfg.Width, cfg.Height) {
		return nil, invalid(KeyTooManyPixels, map[string]any{"Count": MaxPixels / 1_000_000},
			fmt.Errorf("photo: %s size %dx%d", c.name, cfg.Width, cfg.Height))
	}
	if need := decodeBytes(c, cfg, data); need > MaxDecodeBytes {
		px := MaxDecodeBytes * int64(cfg.Width) * int64(cfg.Height) / need
		return nil, invalid(KeyTooDeep, map[string]any{"Count": max(px/1_000_000, 1)},
			fmt.Errorf("photo: %s %dx%d (%T) needs about %d bytes to decode", c.name, cfg.Width, cfg.Height, cfg.ColorModel, need))
	}
	img, err := c.decode(bytes.NewReader(data))
	if err != nil {
		return nil, invalid(KeyCorrupt, nil, fmt.Errorf("photo: decode %s: %w", c.name, err))
	}
	b := img.Bounds()
	if b.Empty() || tooManyPixels(b.Dx(), b.Dy()) {
		return nil, invalid(KeyCorrupt, nil, fmt.Errorf("photo: decoded %s bounds %v", c.name, b))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	orient := 1
	if c.name == "jpeg" {
		orient = orientation(data)
	}

	// Centre square, scaled to the largest size onto white.
	side := min(b.Dx(), b.Dy())
	x0, y0 := b.Min.X+(b.Dx()-side)/2, b.Min.Y+(b.Dy()-side)/2
	square := image.Rect(x0, y0, x0+side, y0+side)
	big := image.NewRGBA(image.Rect(0, 0, Sizes[0], Sizes[0]))
	op := xdraw.Src
	if o, ok := img.(interface{ Opaque() bool }); !ok || !o.Opaque() {
		draw.Draw(big, big.Bounds(), image.White, image.Point{}, draw.Src)
		op = xdraw.Over
	}
	xdraw.CatmullRom.Scale(big, big.Bounds(), img, square, op, nil)
	big = applyOrientation(big, orient)

	res = &Result{Images: make(map[int][]byte, len(Sizes)), SourceWidth: b.Dx(), SourceHeight: b.Dy()}
	if orient >= 5 { // the transposing orientations swap width and height
		res.SourceWidth, res.SourceHeight = res.SourceHeight, res.SourceWidth
	}
	for _, size := range Sizes {
		m := big
		if size != big.Bounds().Dx() {
			m = image.NewRGBA(image.Rect(0, 0, size, size))
			xdraw.CatmullRom.Scale(m, m.Bounds(), big, big.Bounds(), xdraw.Src, nil)
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: JPEGQuality}); err != nil {
			return nil, fmt.Errorf("photo: encode %d: %w", size, err)
		}
		res.Images[size] = buf.Bytes()
	}
	return res, nil
}

func tooManyPixels(w, h int) bool { return int64(w)*int64(h) > MaxPixels }

// applyOrientation returns the square m transformed for EXIF orientation o
// (1 = as stored, 2 = mirrored, 3 = rotated 180°, 4 = flipped, 5 =
// transposed, 6 = needs 90° clockwise, 7 = transversed, 8 = needs 90°
// counter-clockwise).
func applyOrientation(m *image.RGBA, o int) *image.RGBA {
	if o < 2 || o > 8 {
		return m
	}
	n := m.Bounds().Dx()
	out := image.NewRGBA(image.Rect(0, 0, n, n))
	last := n - 1
	for y := range n {
		for x := range n {
			var sx, sy int
			switch o {
			case 2:
				sx, sy = last-x, y
			case 3:
				sx, sy = last-x, last-y
			case 4:
				sx, sy = x, last-y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, last-x
			case 7:
				sx, sy = last-y, last-x
			case 8:
				sx, sy = last-y, x
			}
			si := m.PixOffset(m.Rect.Min.X+sx, m.Rect.Min.Y+sy)
			di := out.PixOffset(x, y)
			copy(out.Pix[di:di+4], m.Pix[si:si+4])
		}
	}
	return out
}
