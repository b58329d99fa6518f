package photo

import (
	"encoding/binary"
	"hash/crc32"
)

// Bombs returns, by format, the first bytes of an image of each supported
// format whose header claims billions of pixels: what a decompression
// bomb shows before its pixels. Process must refuse each from its header
// alone. Tests of every layer use them.
func Bombs() map[string][]byte {
	return map[string][]byte{
		"png":  pngHeader(100_000, 100_000),
		"jpeg": jpegHeader(65_500, 65_500),
		"gif":  gifHeader(65_535, 65_535),
		"webp": webpLosslessHeader(16_384, 16_384),
	}
}

// pngHeader is a PNG signature and an IHDR chunk (8-bit RGB) for a w×h
// image, and nothing else.
func pngHeader(w, h uint32) []byte {
	ihdr := []byte("IHDR")
	ihdr = binary.BigEndian.AppendUint32(ihdr, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	out := []byte("\x89PNG\r\n\x1a\n")
	out = binary.BigEndian.AppendUint32(out, uint32(len(ihdr)-4))
	out = append(out, ihdr...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(ihdr))
}

// jpegHeader is a JPEG start of image, a JFIF segment and a baseline
// frame header (8-bit, three components) for a w×h image.
func jpegHeader(w, h uint16) []byte {
	out := []byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00}
	out = append(out, 0xFF, 0xC0, 0x00, 0x11, 0x08)
	out = binary.BigEndian.AppendUint16(out, h)
	out = binary.BigEndian.AppendUint16(out, w)
	return append(out, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01)
}

// gifHeader is a GIF89a header and logical screen of w×h with a
// two-colour global table.
func gifHeader(w, h uint16) []byte {
	out := []byte("GIF89a")
	out = binary.LittleEndian.AppendUint16(out, w)
	out = binary.LittleEndian.AppendUint16(out, h)
	return append(out, 0x80, 0x00, 0x00, 0, 0, 0, 0xFF, 0xFF, 0xFF)
}

// webpLosslessHeader is a RIFF WebP container with a VP8L (lossless)
// chunk header for a w×h image (at most 16384 a side).
func webpLosslessHeader(w, h uint32) []byte {
	bits := (w - 1) | (h-1)<<14
	vp8l := []byte{0x2f}
	vp8l = binary.LittleEndian.AppendUint32(vp8l, bits)
	chunk := append([]byte("VP8L"), binary.LittleEndian.AppendUint32(nil, uint32(len(vp8l)))...)
	chunk = append(chunk, vp8l...)
	out := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(4+len(chunk)))...)
	out = append(out, "WEBP"...)
	return append(out, chunk...)
}
