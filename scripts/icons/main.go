// Command icons draws the web app's icons (the manifest's, the
// notifications') into internal/web/static: the "R" of the top bar's logo,
// white on the accent colour, in Go Bold. Run from the repository root:
//
//	go run ./scripts/icons
//
// The PNGs are committed; this is how to make them again.
package main

import (
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
	"path/filepath"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

var accent = color.RGBA{0x2f, 0x5b, 0xea, 0xff} // --accent in app.css

func main() {
	f, err := opentype.Parse(gobold.TTF)
	if err != nil {
		log.Fatal(err)
	}
	dir := filepath.Join("internal", "web", "static")
	for _, icon := range []struct {
		name   string
		size   int
		radius float64 // corner radius as a share of the size; 0: full bleed
		glyph  float64 // letter height as a share of the size
		badge  bool    // white on transparent (Android's monochrome badge)
	}{
		{"icon-192.png", 192, 0.22, 0.56, false},
		{"icon-512.png", 512, 0.22, 0.56, false},
		// Maskable: the platform cuts its own shape; the letter stays in
		// the middle 80 % (the safe zone).
		{"icon-maskable-512.png", 512, 0, 0.42, false},
		{"badge-96.png", 96, 0, 0.78, true},
	} {
		img := image.NewRGBA(image.Rect(0, 0, icon.size, icon.size))
		if !icon.badge {
			roundedSquare(img, accent, icon.radius*float64(icon.size))
		}
		letter(img, f, icon.glyph*float64(icon.size))
		out, err := os.Create(filepath.Join(dir, icon.name))
		if err != nil {
			log.Fatal(err)
		}
		if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(out, img); err != nil {
			log.Fatal(err)
		}
		if err := out.Close(); err != nil {
			log.Fatal(err)
		}
	}
}

// roundedSquare fills img with c inside a square with corners of radius r,
// anti-aliased by 4×4 supersampling.
func roundedSquare(img *image.RGBA, c color.RGBA, r float64) {
	n := float64(img.Bounds().Dx())
	inside := func(x, y float64) bool {
		cx := math.Max(r, math.Min(n-r, x))
		cy := math.Max(r, math.Min(n-r, y))
		return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r
	}
	for y := 0; y < img.Bounds().Dy(); y++ {
		for x := 0; x < img.Bounds().Dx(); x++ {
			hits := 0
			for sy := 0; sy < 4; sy++ {
				for sx := 0; sx < 4; sx++ {
					if inside(float64(x)+(float64(sx)+0.5)/4, float64(y)+(float64(sy)+0.5)/4) {
						hits++
					}
				}
			}
			a := uint8(int(c.A) * hits / 16)
			img.SetRGBA(x, y, color.RGBA{uint8(int(c.R) * hits / 16), uint8(int(c.G) * hits / 16), uint8(int(c.B) * hits / 16), a})
		}
	}
}

// letter draws a white "R" of cap height h in the middle of img.
func letter(img *image.RGBA, f *opentype.Font, h float64) {
	// Go Bold's cap height is about 0.72 of its size.
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: h / 0.72, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		log.Fatal(err)
	}
	defer face.Close()
	bounds, _ := font.BoundString(face, "R")
	w := (bounds.Max.X - bounds.Min.X).Round()
	gh := (bounds.Max.Y - bounds.Min.Y).Round()
	n := img.Bounds().Dx()
	dot := fixed.P((n-w)/2-bounds.Min.X.Round(), (n-gh)/2-bounds.Min.Y.Round())
	d := &font.Drawer{Dst: img, Src: image.NewUniform(color.White), Face: face, Dot: dot}
	d.DrawString("R")
}
