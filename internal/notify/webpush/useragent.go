package webpush

import "strings"

// ParseUserAgent names the browser and the operating system of a
// User-Agent header, for people to tell their subscriptions apart:
// "Chrome", "Firefox", "Safari", "Edge", "Opera", "Samsung Internet" and
// "Windows", "macOS", "Linux", "Android", "iOS", "ChromeOS"; "" when not
// recognised. Browsers built on Chromium name Chrome too, so the more
// specific marks are looked for first.
func ParseUserAgent(ua string) (browser, os string) {
	has := func(s ...string) bool {
		for _, x := range s {
			if strings.Contains(ua, x) {
				return true
			}
		}
		return false
	}
	switch {
	case has("SamsungBrowser/"):
		browser = "Samsung Internet"
	case has("Edg/", "EdgA/", "EdgiOS/", "Edge/"):
		browser = "Edge"
	case has("OPR/", "OPX/", "Opera/", "OPiOS/"):
		browser = "Opera"
	case has("Firefox/", "FxiOS/"):
		browser = "Firefox"
	case has("Chrome/", "CriOS/", "Chromium/"):
		browser = "Chrome"
	case has("Safari/") && has("Version/"):
		browser = "Safari"
	}
	switch {
	case has("CrOS "):
		os = "ChromeOS"
	case has("Android"):
		os = "Android"
	case has("iPhone", "iPad", "iPod"):
		os = "iOS"
	case has("Windows"):
		os = "Windows"
	case has("Macintosh", "Mac OS X"):
		os = "macOS"
	case has("Linux", "X11"):
		os = "Linux"
	}
	return browser, os
}
