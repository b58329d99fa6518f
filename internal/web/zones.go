package web

import (
	"html/template"
	"slices"
	"strings"
	"sync"
	_ "time/tzdata" // zone data in the binary, so time zones work in minimal containers
)

// timezones are the IANA zones offered in time zone selects: the common
// zones of every region, sorted, UTC first. Stored values stay plain IANA
// names, so a later, longer list needs no migration.
var timezones = []string{
	"UTC",
	"Africa/Abidjan", "Africa/Accra", "Africa/Addis_Ababa", "Africa/Algiers", "Africa/Cairo",
	"Africa/Casablanca", "Africa/Dar_es_Salaam", "Africa/Johannesburg", "Africa/Khartoum",
	"Africa/Kinshasa", "Africa/Lagos", "Africa/Luanda", "Africa/Maputo", "Africa/Nairobi",
	"Africa/Tunis",
	"America/Anchorage", "America/Argentina/Buenos_Aires", "America/Asuncion", "America/Bogota",
	"America/Caracas", "America/Chicago", "America/Denver", "America/Edmonton", "America/Guatemala",
	"America/Halifax", "America/Havana", "America/La_Paz", "America/Lima", "America/Los_Angeles",
	"America/Manaus", "America/Mexico_City", "America/Montevideo", "America/New_York",
	"America/Panama", "America/Phoenix", "America/Puerto_Rico", "America/Recife",
	"America/Santiago", "America/Santo_Domingo", "America/Sao_Paulo", "America/St_Johns",
	"America/Toronto", "America/Vancouver", "America/Winnipeg",
	"Asia/Almaty", "Asia/Baghdad", "Asia/Baku", "Asia/Bangkok", "Asia/Colombo", "Asia/Dhaka",
	"Asia/Dubai", "Asia/Ho_Chi_Minh", "Asia/Hong_Kong", "Asia/Irkutsk", "Asia/Jakarta",
	"Asia/Jayapura", "Asia/Jerusalem", "Asia/Kabul", "Asia/Kamchatka", "Asia/Karachi",
	"Asia/Kathmandu", "Asia/Kolkata", "Asia/Krasnoyarsk", "Asia/Kuala_Lumpur", "Asia/Magadan",
	"Asia/Makassar", "Asia/Manila", "Asia/Novosibirsk", "Asia/Omsk", "Asia/Riyadh", "Asia/Seoul",
	"Asia/Shanghai", "Asia/Singapore", "Asia/Taipei", "Asia/Tashkent", "Asia/Tbilisi",
	"Asia/Tehran", "Asia/Tokyo", "Asia/Vladivostok", "Asia/Yakutsk", "Asia/Yangon",
	"Asia/Yekaterinburg", "Asia/Yerevan",
	"Atlantic/Azores", "Atlantic/Canary", "Atlantic/Reykjavik",
	"Australia/Adelaide", "Australia/Brisbane", "Australia/Darwin", "Australia/Hobart",
	"Australia/Melbourne", "Australia/Perth", "Australia/Sydney",
	"Europe/Amsterdam", "Europe/Athens", "Europe/Belgrade", "Europe/Berlin", "Europe/Brussels",
	"Europe/Bucharest", "Europe/Budapest", "Europe/Dublin", "Europe/Helsinki", "Europe/Istanbul",
	"Europe/Kaliningrad", "Europe/Kyiv", "Europe/Lisbon", "Europe/London", "Europe/Madrid",
	"Europe/Minsk", "Europe/Moscow", "Europe/Oslo", "Europe/Paris", "Europe/Prague", "Europe/Riga",
	"Europe/Rome", "Europe/Samara", "Europe/Sofia", "Europe/Stockholm", "Europe/Vienna",
	"Europe/Vilnius", "Europe/Volgograd", "Europe/Warsaw", "Europe/Zurich",
	"Pacific/Auckland", "Pacific/Fiji", "Pacific/Guam", "Pacific/Honolulu", "Pacific/Port_Moresby",
}

// zoneOptionsHTML is the time zone select's options, escaped once: the
// profile page is the one most often shown, and ranging over the zones in
// the template was most of its rendering. An option without a value
// attribute has its text as its value, which for a zone's name is the
// name: the list is then 3 kB lighter on every page that shows it.
var zoneOptionsHTML = sync.OnceValue(func() string {
	var b strings.Builder
	for _, z := range timezones {
		b.WriteString("<option>" + template.HTMLEscapeString(z) + "</option>\n")
	}
	return b.String()
})

// zoneSelect is the time zone select's options in three parts, the
// chosen zone's option between the others: Before and After are slices of
// the list escaped once, so a page copies none of it.
type zoneSelect struct{ Before, Chosen, After template.HTML }

// String is the options whole (tests).
func (z zoneSelect) String() string { return string(z.Before + z.Chosen + z.After) }

// zoneOptions is the options with selected marked; a zone that is not in
// the list (or was mistyped) comes first, selected, so it stays selectable;
// with none ("") none is selected.
// The chosen option keeps its value attribute: a value from outside is
// sent back as it is, where a browser would trim an option's text.
func zoneOptions(selected string) zoneSelect {
	all := zoneOptionsHTML()
	if selected == "" {
		// None chosen yet (a first form): none selected, the browser shows the first.
		return zoneSelect{After: template.HTML(all)}
	}
	e := template.HTMLEscapeString(selected)
	chosen := template.HTML(`<option value="` + e + `" selected>` + e + "</option>\n")
	if !slices.Contains(timezones, selected) {
		return zoneSelect{Chosen: chosen, After: template.HTML(all)}
	}
	mark := "<option>" + e + "</option>\n"
	i := strings.Index(all, mark)
	return zoneSelect{Before: template.HTML(all[:i]), Chosen: chosen, After: template.HTML(all[i+len(mark):])}
}
