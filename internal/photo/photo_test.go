package photo

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"

	"roster/internal/core"
)

var (
	red   = color.RGBA{220, 20, 20, 255}
	green = color.RGBA{20, 200, 20, 255}
	blue  = color.RGBA{20, 20, 220, 255}
	white = color.RGBA{255, 255, 255, 255}
)

// fill returns a w x h image of c with the rectangles in marks painted.
func fill(w, h int, c color.Color, marks map[image.Rectangle]color.Color) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, c)
		}
	}
	for r, mc := range marks {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				m.Set(x, y, mc)
			}
		}
	}
	return m
}

func encPNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encJPEG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encGIF(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, m, &gif.Options{NumColors: 256, Quantizer: nil, Drawer: nil}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkResult verifies that res holds a decodable square JPEG per size and
// returns the decoded images.
func checkResult(t testing.TB, res *Result) map[int]image.Image {
	t.Helper()
	if len(res.Images) != len(Sizes) {
		t.Fatalf("got %d images, want %d", len(res.Images), len(Sizes))
	}
	out := make(map[int]image.Image)
	for _, size := range Sizes {
		b, ok := res.Images[size]
		if !ok {
			t.Fatalf("size %d missing", size)
		}
		m, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("size %d: not a JPEG: %v", size, err)
		}
		if got := m.Bounds(); got != image.Rect(0, 0, size, size) {
			t.Fatalf("size %d: bounds %v", size, got)
		}
		out[size] = m
	}
	return out
}

// near reports whether c is within tol of want on each channel.
func near(c color.Color, want color.RGBA, tol int) bool {
	g := color.RGBAModel.Convert(c).(color.RGBA)
	d := func(a, b uint8) bool { x := int(a) - int(b); return x >= -tol && x <= tol }
	return d(g.R, want.R) && d(g.G, want.G) && d(g.B, want.B)
}

// wantField asserts that err is an EINVALID error on the photo field with key.
func wantField(t *testing.T, err error, key string) *core.FieldError {
	t.Helper()
	e := core.AsError(err)
	if e == nil {
		t.Fatalf("got %v (%T), want *core.Error", err, err)
	}
	if e.Code != core.EINVALID || e.Key != "errors.invalid" || len(e.Fields) != 1 {
		t.Fatalf("got %+v", e)
	}
	if f := e.Fields[0]; f.Field != "photo" || f.Key != key {
		t.Fatalf("field error %+v, want photo/%s (cause %v)", f, key, e.Err)
	}
	return &e.Fields[0]
}

func TestProcessFormats(t *testing.T) {
	src := fill(60, 40, blue, nil)
	cases := []struct {
		name string
		data []byte
		w, h int
	}{
		{"png", encPNG(t, src), 60, 40},
		{"jpeg", encJPEG(t, src), 60, 40},
		{"gif", encGIF(t, src), 60, 40},
		{"webp lossless", readTestdata(t, "gopher.lossless.webp"), 75, 100},
		{"webp lossy", readTestdata(t, "blue-purple-pink.lossy.webp"), 150, 100},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Process(t.Context(), bytes.NewReader(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, res)
			if res.SourceWidth != tc.w || res.SourceHeight != tc.h {
				t.Errorf("source %dx%d, want %dx%d", res.SourceWidth, res.SourceHeight, tc.w, tc.h)
			}
		})
	}
}

func TestCentreCrop(t *testing.T) {
	// Red | green | blue thirds: the square is the green third exactly.
	wide := fill(300, 100, red, map[image.Rectangle]color.Color{
		image.Rect(100, 0, 200, 100): green,
		image.Rect(200, 0, 300, 100): blue,
	})
	// And the same standing up.
	tall := fill(100, 300, red, map[image.Rectangle]color.Color{
		image.Rect(0, 100, 100, 200): green,
		image.Rect(0, 200, 100, 300): blue,
	})
	for name, m := range map[string]image.Image{"wide": wide, "tall": tall} {
		t.Run(name, func(t *testing.T) {
			res, err := Process(t.Context(), bytes.NewReader(encPNG(t, m)))
			if err != nil {
				t.Fatal(err)
			}
			for size, out := range checkResult(t, res) {
				for _, p := range []image.Point{{size / 2, size / 2}, {size / 8, size / 2}, {size - size/8, size / 2}, {size / 2, size / 8}, {size / 2, size - size/8}} {
					if c := out.At(p.X, p.Y); !near(c, green, 30) {
						t.Errorf("size %d at %v: %v, want green", size, p, c)
					}
				}
			}
		})
	}
}

// byteOrder is binary.LittleEndian or binary.BigEndian.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// exifJPEG returns a JPEG with an APP1 Exif segment holding orientation
// o and an image description naming a GPS position, in byte order bo.
func exifJPEG(t testing.TB, m image.Image, o uint16, bo byteOrder, secret string) []byte {
	t.Helper()
	jp := encJPEG(t, m)
	var tiff []byte
	if bo == binary.LittleEndian {
		tiff = append(tiff, "II"...)
	} else {
		tiff = append(tiff, "MM"...)
	}
	tiff = bo.AppendUint16(tiff, 42)
	tiff = bo.AppendUint32(tiff, 8) // IFD0 follows the header
	desc := []byte(secret + "\x00")
	descOff := uint32(8 + 2 + 2*12 + 4)
	tiff = bo.AppendUint16(tiff, 2)
	// 0x010E ImageDescription, ASCII, pointing past the IFD.
	tiff = bo.AppendUint16(tiff, 0x010E)
	tiff = bo.AppendUint16(tiff, 2)
	tiff = bo.AppendUint32(tiff, uint32(len(desc)))
	tiff = bo.AppendUint32(tiff, descOff)
	// 0x0112 Orientation, SHORT, one value, left-justified.
	tiff = bo.AppendUint16(tiff, 0x0112)
	tiff = bo.AppendUint16(tiff, 3)
	tiff = bo.AppendUint32(tiff, 1)
	tiff = bo.AppendUint16(tiff, o)
	tiff = bo.AppendUint16(tiff, 0)
	tiff = bo.AppendUint32(tiff, 0) // no next IFD
	tiff = append(tiff, desc...)

	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(payload)+2))
	seg = append(seg, payload...)
	out := append([]byte{}, jp[:2]...)
	out = append(out, seg...)
	return append(out, jp[2:]...)
}

func TestEXIFOrientation(t *testing.T) {
	const secret = "GPS 48.858370N 2.294481E Champ de Mars"
	// 120x100: the centre square is x 10..110; the red mark sits in its
	// top-left corner.
	src := fill(120, 100, blue, map[image.Rectangle]color.Color{image.Rect(10, 0, 45, 35): red})
	n := Sizes[0]
	corners := map[string]image.Point{"TL": {60, 60}, "TR": {n - 60, 60}, "BR": {n - 60, n - 60}, "BL": {60, n - 60}}
	want := map[uint16]string{1: "TL", 2: "TR", 3: "BR", 4: "BL", 5: "TL", 6: "TR", 7: "BR", 8: "BL"}
	for o := uint16(1); o <= 8; o++ {
		for _, bo := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
			data := exifJPEG(t, src, o, bo, secret)
			if got := orientation(data); got != int(o) {
				t.Fatalf("orientation(%d, %v) = %d", o, bo, got)
			}
			res, err := Process(t.Context(), bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			big := checkResult(t, res)[n]
			for name, p := range corners {
				wantC := blue
				if name == want[o] {
					wantC = red
				}
				if c := big.At(p.X, p.Y); !near(c, wantC, 40) {
					t.Errorf("orientation %d %v: corner %s is %v, want %v", o, bo, name, c, wantC)
				}
			}
			w, h := 120, 100
			if o >= 5 {
				w, h = h, w
			}
			if res.SourceWidth != w || res.SourceHeight != h {
				t.Errorf("orientation %d: source %dx%d, want %dx%d", o, res.SourceWidth, res.SourceHeight, w, h)
			}
			for size, b := range res.Images {
				for _, leak := range []string{"Exif", "GPS", "48.858370", "Champ de Mars"} {
					if bytes.Contains(b, []byte(leak)) {
						t.Errorf("orientation %d size %d: output contains %q", o, size, leak)
					}
				}
				if orientation(b) != 1 {
					t.Errorf("output carries an orientation")
				}
			}
		}
	}
}

func TestOrientationGarbage(t *testing.T) {
	src := fill(8, 8, blue, nil)
	good := exifJPEG(t, src, 6, binary.BigEndian, "x")
	for name, data := range map[string][]byte{
		"empty":          nil,
		"soi only":       {0xFF, 0xD8},
		"png":            encPNG(t, src),
		"no exif":        encJPEG(t, src),
		"short segment":  good[:12],
		"bad length":     append([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x01}, good[6:]...),
		"huge length":    append([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF}, good[6:]...),
		"bad byte order": bytes.Replace(good, []byte("MM\x00\x2a"), []byte("XX\x00\x2a"), 1),
		"bad magic":      bytes.Replace(good, []byte("MM\x00\x2a"), []byte("MM\x00\x2b"), 1),
		"value 9":        exifJPEG(t, src, 9, binary.BigEndian, "x"),
		"value 0":        exifJPEG(t, src, 0, binary.LittleEndian, "x"),
	} {
		if got := orientation(data); got != 1 {
			t.Errorf("%s: orientation %d, want 1", name, got)
		}
	}
}

func TestRefusals(t *testing.T) {
	noisy := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := range noisy.Pix {
		noisy.Pix[i] = uint8(i * 7919 % 251)
	}
	pngData, jpegData := encPNG(t, noisy), encJPEG(t, noisy)
	gifData := encGIF(t, noisy)
	cases := []struct {
		name string
		data []byte
		key  string
	}{
		{"empty", nil, KeyEmpty},
		{"text named .png", []byte("just some notes, saved as avatar.png\n"), KeyUnsupported},
		{"html", []byte("<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"), KeyUnsupported},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>`), KeyUnsupported},
		{"bmp", []byte("BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00"), KeyUnsupported},
		{"truncated png", pngData[:len(pngData)/2], KeyCorrupt},
		{"truncated jpeg", jpegData[:len(jpegData)/2], KeyCorrupt},
		{"truncated gif", gifData[:len(gifData)/2], KeyCorrupt},
		{"png signature only", pngData[:8], KeyCorrupt},
		{"jpeg soi only", []byte{0xFF, 0xD8, 0xFF}, KeyCorrupt},
		{"webp header only", []byte("RIFF\x04\x00\x00\x00WEBP"), KeyCorrupt},
		{"png bomb", Bombs()["png"], KeyTooManyPixels},
		{"png zero width", pngHeader(0, 10), KeyCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Process(t.Context(), bytes.NewReader(tc.data))
			f := wantField(t, err, tc.key)
			if tc.key == KeyTooManyPixels && f.Data["Count"] != 40 {
				t.Errorf("data %v, want Count 40", f.Data)
			}
		})
	}
}

// TestBombDoesNotAllocate checks that a header of each supported format
// claiming billions of pixels (a decompression bomb: a few bytes that
// would decode to gigabytes) is refused before any pixel memory is taken.
func TestBombDoesNotAllocate(t *testing.T) {
	for name, bomb := range Bombs() {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Process(t.Context(), bytes.NewReader(bomb))
			runtime.ReadMemStats(&after)
			wantField(t, err, KeyTooManyPixels)
			if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
				t.Errorf("allocated %d bytes", n)
			}
		})
	}
}

func TestTooLarge(t *testing.T) {
	data := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, MaxUploadBytes-7)...)
	if len(data) != MaxUploadBytes+1 {
		t.Fatal(len(data))
	}
	_, err := Process(t.Context(), bytes.NewReader(data))
	f := wantField(t, err, KeyTooLarge)
	if f.Data["Count"] != 10 {
		t.Errorf("data %v, want Count 10", f.Data)
	}

	// Only MaxUploadBytes+1 bytes are read from an endless stream.
	cr := &countingReader{}
	_, err = Process(t.Context(), cr)
	wantField(t, err, KeyTooLarge)
	if cr.n > MaxUploadBytes+1 {
		t.Errorf("read %d bytes", cr.n)
	}

	// A request body cut by http.MaxBytesReader counts as too large too.
	rec := httptest.NewRecorder()
	body := http.MaxBytesReader(rec, io.NopCloser(bytes.NewReader(make([]byte, 100))), 10)
	_, err = Process(t.Context(), body)
	wantField(t, err, KeyTooLarge)
}

type countingReader struct{ n int }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0xFF
	}
	c.n += len(p)
	return len(p), nil
}

func TestTransparencyFlattenedToWhite(t *testing.T) {
	m := image.NewNRGBA(image.Rect(0, 0, 40, 40)) // fully transparent black
	for y := 15; y < 25; y++ {
		for x := 15; x < 25; x++ {
			m.Set(x, y, color.NRGBA{20, 20, 220, 255})
		}
	}
	// A GIF needs a palette with a transparent entry (index 0 here).
	pm := image.NewPaletted(m.Bounds(), color.Palette{color.RGBA{}, blue})
	for y := 15; y < 25; y++ {
		for x := 15; x < 25; x++ {
			pm.SetColorIndex(x, y, 1)
		}
	}
	for name, data := range map[string][]byte{"png": encPNG(t, m), "gif": encGIF(t, pm)} {
		res, err := Process(t.Context(), bytes.NewReader(data))
		if err != nil {
			t.Fatal(name, err)
		}
		for size, out := range checkResult(t, res) {
			if c := out.At(1, 1); !near(c, white, 8) {
				t.Errorf("%s size %d: corner %v, want white", name, size, c)
			}
			if c := out.At(size/2, size/2); !near(c, blue, 40) {
				t.Errorf("%s size %d: centre %v, want blue", name, size, c)
			}
		}
	}
}

func TestPNGMetadataStripped(t *testing.T) {
	data := encPNG(t, fill(10, 10, green, nil))
	// Insert a tEXt chunk after IHDR (8 + 25 bytes).
	text := []byte("tEXtComment\x00GPSLatitude 48.858370")
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(text)-4))
	chunk = append(chunk, text...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(text))
	data = append(append(append([]byte{}, data[:33]...), chunk...), data[33:]...)
	res, err := Process(t.Context(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for size, b := range res.Images {
		if bytes.Contains(b, []byte("48.858370")) || bytes.Contains(b, []byte("Comment")) {
			t.Errorf("size %d keeps the PNG text", size)
		}
	}
}

func TestProcessCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Process(ctx, bytes.NewReader(encPNG(t, fill(4, 4, red, nil))))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestPickSize(t *testing.T) {
	for want, got := range map[int]int{0: 48, 1: 48, 48: 48, 49: 128, 96: 128, 128: 128, 129: 512, 512: 512, 2000: 512} {
		if p := PickSize(want); p != got {
			t.Errorf("PickSize(%d) = %d, want %d", want, p, got)
		}
	}
}

// fuzzSeeds are tiny images of every format plus broken ones.
func fuzzSeeds(t testing.TB) [][]byte {
	tiny := fill(3, 2, red, map[image.Rectangle]color.Color{image.Rect(1, 0, 2, 2): green})
	pal := image.NewPaletted(image.Rect(0, 0, 3, 2), palette.Plan9)
	pngData, jpegData := encPNG(t, tiny), encJPEG(t, tiny)
	return [][]byte{
		pngData, jpegData, encGIF(t, pal), readTestdata(t, "gopher.lossless.webp"),
		exifJPEG(t, tiny, 6, binary.LittleEndian, "GPS"),
		pngData[:len(pngData)-10], jpegData[:len(jpegData)-10],
		pngHeader(100000, 100000), pngHeader(0, 0), pngHeader(1, 1),
		[]byte("GIF89a"), []byte("RIFF\x00\x00\x00\x00WEBPVP8L"), []byte("<html>"), {},
	}
}

func FuzzProcess(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Process(context.Background(), bytes.NewReader(data))
		if err != nil {
			e := core.AsError(err)
			if e == nil || e.Code != core.EINVALID || len(e.Fields) != 1 || e.Fields[0].Field != "photo" {
				t.Fatalf("unexpected error %v (%T)", err, err)
			}
			if res != nil {
				t.Fatal("result with error")
			}
			return
		}
		checkResult(t, res)
	})
}

func FuzzOrientation(f *testing.F) {
	src := fill(2, 2, red, nil)
	for o := uint16(0); o <= 9; o++ {
		f.Add(exifJPEG(f, src, o, binary.LittleEndian, "a"))
		f.Add(exifJPEG(f, src, o, binary.BigEndian, "b"))
	}
	f.Add(encJPEG(f, src))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x08, 'E', 'x', 'i', 'f', 0, 0})
	f.Add([]byte(strings.Repeat("\xFF", 20)))
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := orientation(data); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
	})
}

// BenchmarkProcess12MP measures a typical phone photo (4000x3000 JPEG).
func BenchmarkProcess12MP(b *testing.B) {
	m := image.NewYCbCr(image.Rect(0, 0, 4000, 3000), image.YCbCrSubsampleRatio420)
	for i := range m.Y {
		m.Y[i] = uint8(i % 251)
	}
	data := encJPEG(b, m)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Process(b.Context(), bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
