package core

import (
	"testing"
	"unicode"
)

func TestNormalizePhone(t *testing.T) {
	cases := []struct {
		in, region, want string
		ok               bool
	}{
		{"", "ES", "", true},
		{"612 34 56 78", "ES", "+34612345678", true},
		{"+34 612-34-56-78", "US", "+34612345678", true},
		{"(415) 555-2671", "US", "+14155552671", true},
		{"8 (912) 345-67-89", "RU", "+79123456789", true},
		{"+55 11 91234-5678", "ID", "+5511912345678", true},
		{"0812-3456-789", "ID", "+628123456789", true},
		{"0532 123 45 67", "TR", "+905321234567", true},
		{"12", "ES", "", false},
		{"not a number", "US", "", false},
		{"+999 1234567", "US", "", false},
	}
	for _, c := range cases {
		got, ok := NormalizePhone(c.in, c.region)
		if ok != c.ok || got != c.want {
			t.Errorf("NormalizePhone(%q, %s) = %q, %v; want %q, %v", c.in, c.region, got, ok, c.want, c.ok)
		}
	}
	// An extension is refused with its own key, never dropped.
	for _, in := range []string{"+1 415 555 2671 ext. 123", "+14155552671;ext=123", "(415) 555-2671 x123", "+34 612 34 56 78 ext 5"} {
		got, key := CheckPhone(in, "US")
		if key != PhoneExtensionKey || got != "" {
			t.Errorf("CheckPhone(%q) = %q, %q; want the extension refused", in, got, key)
		}
	}
	if f := FormatPhone("+34612345678"); f != "+34 612 34 56 78" {
		t.Errorf("FormatPhone = %q", f)
	}
}

// FuzzNormalizePhone: any input either fails or yields an E.164 number that
// normalises to itself.
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"612 34 56 78", "+1 415 555 2671", "8 (912) 345-67-89", "", "+", "++1", "0", "ext. 5"} {
		f.Add(s, "ES")
	}
	f.Fuzz(func(t *testing.T, s, region string) {
		got, ok := NormalizePhone(s, region)
		if !ok || got == "" {
			return
		}
		if got[0] != '+' {
			t.Fatalf("%q -> %q is not E.164", s, got)
		}
		again, ok := NormalizePhone(got, "")
		if !ok || again != got {
			t.Fatalf("%q -> %q -> %q, %v", s, got, again, ok)
		}
	})
}

// FuzzNormalizeName: accepted names are trimmed, 1-50 characters and free
// of control and format characters, hold a letter or digit, and
// normalising again changes nothing.
func FuzzNormalizeName(f *testing.F) {
	for _, s := range []string{"Ana", "  Иван  ", "a\x00b", "", "é", "x\u2028y", "a\u200bb", "\u202e", "--"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := NormalizeName(s)
		if !ok {
			return
		}
		again, ok2 := NormalizeName(got)
		if !ok2 || again != got {
			t.Fatalf("%q -> %q -> %q", s, got, again)
		}
		letter := false
		for _, r := range got {
			if unicode.Is(unicode.Cf, r) || unicode.IsControl(r) {
				t.Fatalf("%q accepted with %U", got, r)
			}
			letter = letter || unicode.IsLetter(r) || unicode.IsDigit(r)
		}
		if !letter {
			t.Fatalf("%q accepted without a letter or digit", got)
		}
	})
}

// TestFormatPhoneKeepsWhatItFormatted: a number formatted once is taken
// from memory the next time, the same as formatting it again, and the
// memory never holds more than its bound.
func TestFormatPhoneKeepsWhatItFormatted(t *testing.T) {
	defer func(n int) { maxFormatted = n }(maxFormatted)
	maxFormatted = 3
	numbers := []string{"+34612345678", "+5511987654321", "+905321234567", "+79161234567", "+6281234567890", "not a number"}
	want := map[string]string{"+34612345678": "+34 612 34 56 78", "+79161234567": "+7 916 123-45-67", "not a number": "not a number"}
	for range 3 {
		for _, n := range numbers {
			got := FormatPhone(n)
			if w, ok := want[n]; ok && got != w {
				t.Errorf("FormatPhone(%q) = %q, want %q", n, got, w)
			}
			formatted.RLock()
			kept, size := formatted.m[n], len(formatted.m)
			formatted.RUnlock()
			if kept != got || size > maxFormatted {
				t.Fatalf("after %q: kept %q, %d numbers kept (at most %d)", n, kept, size, maxFormatted)
			}
		}
	}
}
