package httpx

import "strings"

// DeviceLabel names the browser and operating system in a User-Agent for
// the sessions list, like "Chrome on Windows" or "Safari on iOS". It
// returns just the browser or just the OS when only one is known, and ""
// when neither is, so the caller can show a translated "Unknown device".
// Callers that translate the joining word should use ParseDevice.
func DeviceLabel(userAgent string) string {
	browser, os := ParseDevice(userAgent)
	switch {
	case browser != "" && os != "":
		return browser + " on " + os
	case browser != "":
		return browser
	default:
		return os
	}
}

// ParseDevice returns the browser and operating system product names found
// in a User-Agent, each "" when not recognised. Names are brands and need
// no translation.
func ParseDevice(userAgent string) (browser, os string) {
	return uaBrowser(userAgent), uaOS(userAgent)
}

// The order matters: most Chromium browsers also say "Chrome" and
// "Safari", and Chrome says "Safari".
var uaBrowsers = []struct{ name, token string }{
	{"Samsung Internet", "SamsungBrowser/"},
	{"Yandex Browser", "YaBrowser/"},
	{"Edge", "Edg/"},
	{"Edge", "EdgA/"},
	{"Edge", "EdgiOS/"},
	{"Edge", "Edge/"},
	{"Opera", "OPR/"},
	{"Opera", "OPT/"},
	{"Opera", "Opera"},
	{"Vivaldi", "Vivaldi/"},
	{"Firefox", "FxiOS/"},
	{"Firefox", "Firefox/"},
	{"Chromium", "Chromium/"},
	{"Chrome", "CriOS/"},
	{"Chrome", "Chrome/"},
}

func uaBrowser(ua string) string {
	for _, b := range uaBrowsers {
		if strings.Contains(ua, b.token) {
			return b.name
		}
	}
	// Safari is whatever WebKit browser is left that says both.
	if strings.Contains(ua, "Safari/") && strings.Contains(ua, "Version/") {
		return "Safari"
	}
	return ""
}

func uaOS(ua string) string {
	switch {
	case strings.Contains(ua, "iPad"):
		return "iPadOS"
	case strings.Contains(ua, "iPhone"), strings.Contains(ua, "iPod"):
		return "iOS"
	case strings.Contains(ua, "Android"):
		return "Android"
	case strings.Contains(ua, "CrOS"):
		return "ChromeOS"
	case strings.Contains(ua, "Windows"):
		return "Windows"
	case strings.Contains(ua, "Macintosh"), strings.Contains(ua, "Mac OS X"):
		return "macOS"
	case strings.Contains(ua, "Linux"):
		return "Linux"
	}
	return ""
}

// DeviceName is the language-neutral device label stored with a session:
// "Chrome · Windows". Browser and OS names are proper nouns, so no word needs
// translating; "" means unknown and pages show a translated fallback.
func DeviceName(userAgent string) string {
	b, o := ParseDevice(userAgent)
	switch {
	case b != "" && o != "":
		return b + " · " + o
	default:
		return b + o
	}
}
