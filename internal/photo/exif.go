package photo

import "encoding/binary"

// orientation returns the EXIF orientation (1-8) of a JPEG: the Orientation
// tag (0x0112) of IFD0 in the first APP1 "Exif" segment. Anything missing,
// out of range or malformed gives 1 (as stored), so hostile metadata can
// at worst leave a photo unrotated.
func orientation(jpeg []byte) int {
	if len(jpeg) < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8 {
		return 1
	}
	pos := 2
	for pos+4 <= len(jpeg) {
		if jpeg[pos] != 0xFF {
			return 1
		}
		marker := jpeg[pos+1]
		switch {
		case marker == 0xFF: // fill byte before a marker
			pos++
			continue
		case marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7):
			pos += 2 // markers without a length
			continue
		case marker == 0xDA || marker == 0xD9:
			return 1 // image data or the end: metadata comes before both
		}
		n := int(binary.BigEndian.Uint16(jpeg[pos+2:]))
		if n < 2 || pos+2+n > len(jpeg) {
			return 1
		}
		seg := jpeg[pos+4 : pos+2+n]
		if marker == 0xE1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			return tiffOrientation(seg[6:])
		}
		pos += 2 + n
	}
	return 1
}

// tiffOrientation reads the Orientation tag of IFD0 from a TIFF header.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	if bo.Uint16(t[2:]) != 42 {
		return 1
	}
	ifd := uint64(bo.Uint32(t[4:]))
	if ifd+2 > uint64(len(t)) {
		return 1
	}
	count := uint64(bo.Uint16(t[ifd:]))
	for i := range count {
		e := ifd + 2 + i*12
		if e+12 > uint64(len(t)) {
			return 1
		}
		if bo.Uint16(t[e:]) != 0x0112 {
			continue
		}
		// Type SHORT (3), one value, stored left-justified in the value field.
		if bo.Uint16(t[e+2:]) != 3 || bo.Uint32(t[e+4:]) != 1 {
			return 1
		}
		if v := int(bo.Uint16(t[e+8:])); v >= 1 && v <= 8 {
			return v
		}
		return 1
	}
	return 1
}
