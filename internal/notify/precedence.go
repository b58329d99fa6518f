package notify

// Skip reasons of a delivery that was not made. They are a public contract
// (the deliveries API) and translated as notify.reason.<reason>.
const (
	ReasonPreference         = "preference"
	ReasonMasterOff          = "master_off"
	ReasonChannelUnavailable = "channel_unavailable"
	ReasonRead               = "read"
	// ReasonQuiet: a queued delivery held by the person's quiet hours or
	// pause; it goes when they end.
	ReasonQuiet = "quiet"
	// ReasonDigest: email for a person who chose the daily digest is
	// not sent one by one; the digest carries it.
	ReasonDigest = "digest"
	// ReasonNotice: a security notice is mailed by the security-notice
	// mailer in the change's own transaction (events.NoticeMail), so its
	// email delivery here would be a second copy.
	ReasonNotice = "notice"
)

// Decision is whether one event reaches one person on one channel, and
// why not.
type Decision struct {
	Deliver bool
	Reason  string // a Reason* when not delivered
}

// Choice is what decides a delivery: the type, the channel, and the
// person's state for them.
type Choice struct {
	Type    *Type
	Channel Channel
	Receive bool // the master switch
	Usable  bool // the channel can reach the person now
	CellOn  bool // the person's (or their default's) cell for type × channel
}

// Decide is the one precedence rule, in this order:
//
//  1. The in-app centre records everything.
//  2. A mandatory type (security notices) ignores the master switch and the
//     matrix: it goes to every channel that can reach the person.
//  3. The master switch off stops every other type on every other channel.
//  4. A channel that cannot reach the person (not configured, nothing
//     registered, not connected) is skipped, never failed.
//  5. Otherwise the matrix cell decides.
//
// A channel's reachability is a fact, not a preference: not even a
// mandatory notice can go where there is no destination.
func Decide(c Choice) Decision {
	switch {
	case c.Channel == InApp:
		return Decision{Deliver: true}
	case c.Type.Mandatory && !c.Usable:
		return Decision{Reason: ReasonChannelUnavailable}
	case c.Type.Mandatory:
		return Decision{Deliver: true}
	case !c.Receive:
		return Decision{Reason: ReasonMasterOff}
	case !c.Usable:
		return Decision{Reason: ReasonChannelUnavailable}
	case !c.CellOn:
		return Decision{Reason: ReasonPreference}
	}
	return Decision{Deliver: true}
}

// Popup reports whether an open page shows the notification as a pop-up:
// the browser channel is on for the type and the master switch is on (or
// the type is mandatory). An open tab needs no push subscription, so the
// browser channel's reachability does not matter here.
func Popup(t *Type, receive, browserCellOn bool) bool {
	return t.Mandatory || (receive && browserCellOn)
}
