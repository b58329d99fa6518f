package photo

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/core"
	"roster/internal/testenv"
)

// flatPNG writes a w×h PNG of one colour without holding its pixels: rows
// are streamed through zlib, so a 317 MB image of 16-bit pixels costs a
// few hundred KB, as an attacker's file would.
func flatPNG(t testing.TB, w, h int, depth, colorType byte) []byte {
	t.Helper()
	channels := map[byte]int{0: 1, 2: 3, 4: 2, 6: 4}[colorType]
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&out, binary.BigEndian, uint32(len(data)))
		body := append([]byte(typ), data...)
		out.Write(body)
		_ = binary.Write(&out, binary.BigEndian, crc32.ChecksumIEEE(body))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	chunk("IHDR", append(ihdr, depth, colorType, 0, 0, 0))
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	row := make([]byte, 1+w*channels*int(depth)/8) // filter byte 0, then zero samples
	for range h {
		if _, err := zw.Write(row); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return out.Bytes()
}

// deepPNG is the attack of the issue: a 16-bit RGBA PNG of 6300×6300, well
// within the pixel cap and a few hundred KB, that decodes to 317 MB.
var deepPNG = sync.OnceValue(func() []byte { return flatPNG(&testing.T{}, 6300, 6300, 16, 6) })

func TestDeepImageRefusedBeforeDecoding(t *testing.T) {
	data := deepPNG()
	if len(data) > MaxUploadBytes || 6300*6300 > MaxPixels {
		t.Fatalf("the attack file must pass the upload and pixel caps: %d bytes", len(data))
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Process(t.Context(), bytes.NewReader(data))
	runtime.ReadMemStats(&after)
	f := wantField(t, err, KeyTooDeep)
	// 192 MiB over 8 bytes a pixel plus the scaler: about 20 megapixels.
	if n, ok := f.Data["Count"].(int64); !ok || n < 15 || n > 25 {
		t.Errorf("data %v, want the megapixels allowed at this depth (about 20)", f.Data)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20+uint64(len(data)) {
		t.Errorf("refusing it allocated %d bytes", n)
	}
}

func TestDecodeBytes(t *testing.T) {
	if MaxDecodeBytes != 192<<20 {
		t.Fatalf("MaxDecodeBytes = %d, documented as 192 MiB", MaxDecodeBytes)
	}
	sof := func(marker byte, sampling ...byte) []byte {
		b := []byte{0xFF, 0xD8, 0xFF, marker, 0, byte(8 + 3*len(sampling)), 8, 0, 16, 0, 16, byte(len(sampling))}
		for i, s := range sampling {
			b = append(b, byte(i+1), s, 0)
		}
		return b
	}
	cfg := func(m color.Model) image.Config { return image.Config{ColorModel: m, Width: 1000, Height: 1000} }
	const px, scaler = 1_000_000, 1000 * scalerBytesPerSourceRow
	cases := []struct {
		name string
		c    codec
		cfg  image.Config
		data []byte
		want int64
	}{
		{"gray png", codecPNG, cfg(color.GrayModel), pngHeader(1000, 1000), px + scaler},
		{"rgba png", codecPNG, cfg(color.NRGBAModel), pngHeader(1000, 1000), 4*px + scaler},
		{"16-bit png", codecPNG, cfg(color.NRGBA64Model), pngHeader(1000, 1000), 8*px + scaler},
		{"interlaced png", codecPNG, cfg(color.RGBAModel), append(pngHeader(1000, 1000)[:28], 1), 8*px + scaler},
		{"gif", codecGIF, cfg(color.Palette{color.Black, color.White}), nil, px + scaler},
		{"lossy webp", codecWebP, cfg(color.YCbCrModel), nil, 3*px + scaler},
		{"lossless webp", codecWebP, cfg(color.NRGBAModel), nil, 8*px + scaler},
		{"unknown model", codecPNG, cfg(color.ModelFunc(func(c color.Color) color.Color { return c })), pngHeader(1000, 1000), 8*px + scaler},
		// 1000 is not a multiple of the 16-pixel MCU: the decoder rounds up to 1008.
		{"baseline jpeg 4:2:0", codecJPEG, cfg(color.YCbCrModel), sof(0xC0, 0x22, 0x11, 0x11), 1008*1008 + 2*504*504 + scaler},
		{"progressive jpeg 4:2:0", codecJPEG, cfg(color.YCbCrModel), sof(0xC2, 0x22, 0x11, 0x11), 5*(1008*1008+2*504*504) + scaler},
		{"progressive jpeg 4:4:4", codecJPEG, cfg(color.YCbCrModel), sof(0xC2, 0x11, 0x11, 0x11), 5*3*1000*1000 + scaler},
		{"jpeg without a frame header", codecJPEG, cfg(color.YCbCrModel), []byte{0xFF, 0xD8}, 15*px + scaler},
	}
	for _, tc := range cases {
		if got := decodeBytes(tc.c, tc.cfg, tc.data); got != tc.want {
			t.Errorf("%s: %d bytes, want %d", tc.name, got, tc.want)
		}
	}
}

// TestBusyWhenEverySlotIsTaken: with every decode slot held, an upload
// waits slotWait and is then told to retry (503 with Retry-After at the
// doors), instead of queueing without bound.
func TestBusyWhenEverySlotIsTaken(t *testing.T) {
	if cap(slots) != 2 || SlotWait != 5*time.Second {
		t.Fatalf("%d slots and a wait of %v, documented as 2 and 5s", cap(slots), SlotWait)
	}
	defer func(d time.Duration) { slotWait = d }(slotWait)
	slotWait = 20 * time.Millisecond
	for range cap(slots) {
		slots <- struct{}{}
	}
	small := encPNG(t, fill(32, 32, color.White, nil))
	_, err := Process(t.Context(), bytes.NewReader(small))
	for range cap(slots) {
		<-slots
	}
	e := core.AsError(err)
	if e == nil || e.Code != core.EUNAVAILABLE || e.Key != KeyBusy || e.RetryAfter != SlotWait {
		t.Fatalf("with every slot taken: %v, want EUNAVAILABLE %s after %v", err, KeyBusy, SlotWait)
	}
	if _, err := Process(t.Context(), bytes.NewReader(small)); err != nil {
		t.Fatalf("with the slots free again: %v", err)
	}
}

const memoryChildEnv = "ROSTER_PHOTO_MEMORY_CHILD"

// TestParallelUploadsMemoryBound runs in a child process of its own, whose
// peak RSS (VmHWM, reset before each phase) belongs to this test alone:
//   - six of the 16-bit PNGs uploaded at once raise the peak by less
//     than 64 MiB (each is refused from its header; decoding them took
//     1.5 GB before);
//   - six large 8-bit images that are accepted (25 megapixels each, about
//     105 MB to decode and scale) raise it by less than
//     2 × decodeSlots × MaxDecodeBytes = 768 MiB: at most decodeSlots
//     decode at once, and the garbage collector lets the heap grow to
//     twice what is live.
func TestParallelUploadsMemoryBound(t *testing.T) {
	if os.Getenv(memoryChildEnv) == "1" {
		memoryChild(t)
		return
	}
	if testing.Short() {
		t.Skip("decodes six 36-megapixel images; runs without -short")
	}
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		testenv.SkipOrFail(t, "peak RSS cannot be reset here (/proc/self/clear_refs): "+err.Error())
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestParallelUploadsMemoryBound$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), memoryChildEnv+"=1", "GOMAXPROCS=2")
	out, err := cmd.CombinedOutput()
	t.Logf("child:\n%s", out)
	if err != nil {
		t.Fatalf("child process: %v", err)
	}
}

func memoryChild(t *testing.T) {
	slotWait = 5 * time.Minute // every upload waits its turn: this measures memory, not the wait
	deep := deepPNG()
	big := flatPNG(t, 5000, 5000, 8, 0)
	phase := func(name string, data []byte, wantErr string, bound int64) {
		runtime.GC()
		debug.FreeOSMemory()
		base := rss(t, "VmRSS")
		if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Go(func() { _, errs[i] = Process(t.Context(), bytes.NewReader(data)) })
		}
		wg.Wait()
		peak := rss(t, "VmHWM")
		t.Logf("%s: RSS %d MiB before, peak %d MiB (+%d MiB, bound %d MiB)", name, base>>20, peak>>20, (peak-base)>>20, bound>>20)
		for _, err := range errs {
			if got := errKey(err); got != wantErr {
				t.Errorf("%s: upload gave %q (%v), want %q", name, got, err, wantErr)
			}
		}
		if peak-base > bound {
			t.Errorf("%s: six parallel uploads raised peak RSS by %d MiB, bound %d MiB", name, (peak-base)>>20, bound>>20)
		}
	}
	phase("six 16-bit 6300×6300 PNGs", deep, KeyTooDeep, 64<<20)
	phase("six 8-bit 5000×5000 PNGs", big, "", 2*decodeSlots*MaxDecodeBytes)
}

// errKey is the field error key of err, "" for nil.
func errKey(err error) string {
	if err == nil {
		return ""
	}
	var e *core.Error
	if errors.As(err, &e) && len(e.Fields) == 1 {
		return e.Fields[0].Key
	}
	return err.Error()
}

// rss reads a size line (VmRSS, VmHWM) of /proc/self/status, in bytes.
func rss(t *testing.T, field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}
