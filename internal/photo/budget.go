package photo

import (
	"encoding/binary"
	"image"
	"image/color"
)

// MaxDecodeBytes bounds the memory one upload may take while it is decoded
// and scaled, estimated from its header before any pixel is allocated. The
// pixel cap alone is not enough: a 16-bit PNG decodes to 8 bytes a pixel,
// a progressive JPEG keeps 4 bytes of coefficients a pixel per component,
// so a 300 KB file within the pixel cap could take 400 MB. With at most
// decodeSlots decodes at once, decoding never holds more than
// decodeSlots × MaxDecodeBytes. 192 MiB still admits every 8-bit image up
// to the pixel cap that phones and cameras write (a 40-megapixel baseline
// JPEG needs about 165 MB here, mostly the scaler's buffer).
const MaxDecodeBytes = 192 << 20

// scalerBytesPerSourceRow is what CatmullRom scaling to Sizes[0] allocates
// per source row of the square: one [4]float64 per destination column.
const scalerBytesPerSourceRow = 32 * 512

// decodeBytes estimates the bytes that decoding data (whose header gave
// cfg) and scaling it take: the decoded image at its colour model's size,
// the decoder's own working buffers where they are large, and the scaler.
// It errs high: an image refused here would have been expensive.
func decodeBytes(c codec, cfg image.Config, data []byte) int64 {
	px := int64(cfg.Width) * int64(cfg.Height)
	side := int64(min(cfg.Width, cfg.Height))
	scaler := side * scalerBytesPerSourceRow
	var img int64
	switch c.name {
	case "jpeg":
		img = jpegBytes(cfg, data)
	case "png":
		img = px * bytesPerPixel(cfg.ColorModel)
		if pngInterlaced(data) {
			img *= 2 // each pass is decoded into its own image, then merged
		}
	case "webp":
		img = px * bytesPerPixel(cfg.ColorModel)
		if cfg.ColorModel == color.NRGBAModel {
			img *= 2 // lossless: the ARGB pixels, then the NRGBA image
		}
	default: // gif: the first frame, one palette index a pixel
		img = px * bytesPerPixel(cfg.ColorModel)
	}
	return img + scaler
}

// bytesPerPixel is the size of one pixel of the image a decoder returns for
// the colour model its header declared. Unknown models count as the
// largest (8 bytes).
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3 // 4:4:4 at worst
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel, color.NYCbCrAModel:
		return 4
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8
}

// jpegBytes sizes a JPEG's decode from its frame header: each component at
// its own sampling, and for progressive JPEGs the coefficients the decoder
// keeps (64 int32 per 8×8 block, 4 bytes a pixel). Without a readable frame
// header it assumes three full-size progressive components.
func jpegBytes(cfg image.Config, data []byte) int64 {
	w, h := int64(cfg.Width), int64(cfg.Height)
	progressive, comps := jpegFrame(data)
	if len(comps) == 0 {
		return w * h * 3 * (1 + 4)
	}
	var hmax, vmax int64 = 1, 1
	for _, c := range comps {
		hmax, vmax = max(hmax, c[0]), max(vmax, c[1])
	}
	// The decoder allocates whole MCUs: mxx × myy of them, each 8·h × 8·v
	// pixels of a component sampled h × v.
	mxx, myy := (w+8*hmax-1)/(8*hmax), (h+8*vmax-1)/(8*vmax)
	var total int64
	for _, c := range comps {
		n := 8 * c[0] * mxx * 8 * c[1] * myy
		total += n
		if progressive {
			total += 4 * n
		}
	}
	return total
}

// jpegFrame reads the first start-of-frame segment: whether it is
// progressive, and each component's horizontal and vertical sampling.
func jpegFrame(b []byte) (progressive bool, comps [][2]int64) {
	pos := 2
	for pos+4 <= len(b) {
		if b[pos] != 0xFF {
			return false, nil
		}
		marker := b[pos+1]
		switch {
		case marker == 0xFF:
			pos++
			continue
		case marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7):
			pos += 2
			continue
		case marker == 0xDA || marker == 0xD9:
			return false, nil
		}
		n := int(binary.BigEndian.Uint16(b[pos+2:]))
		if n < 2 || pos+2+n > len(b) {
			return false, nil
		}
		seg := b[pos+4 : pos+2+n]
		switch marker {
		case 0xC0, 0xC1, 0xC2:
			// precision, height, width, component count, then 3 bytes each
			if len(seg) < 6 || len(seg) < 6+3*int(seg[5]) {
				return false, nil
			}
			for i := range int(seg[5]) {
				s := seg[6+3*i+1]
				comps = append(comps, [2]int64{max(int64(s>>4), 1), max(int64(s&0x0F), 1)})
			}
			return marker == 0xC2, comps
		}
		pos += 2 + n
	}
	return false, nil
}

// pngInterlaced reads the interlace method of the IHDR chunk, which the
// PNG format puts first.
func pngInterlaced(b []byte) bool { return len(b) > 28 && b[28] != 0 }
