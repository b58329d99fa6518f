package mail

import "testing"

func TestSMTPTLSPolicy(t *testing.T) {
	for url, want := range map[string]string{
		"smtp://mail.example.com":     "TLSMandatory", // default port 587
		"smtp://mail.example.com:587": "TLSMandatory",
		"smtp://mail.example.com:25":  "TLSOpportunistic",
		"smtp://127.0.0.1:2525":       "TLSOpportunistic",
	} {
		s, err := NewSMTP(SMTPConfig{URL: url, From: "r@example.com"})
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		if got := s.client.TLSPolicy(); got != want {
			t.Errorf("%s: TLS policy %s, want %s", url, got, want)
		}
	}
	s, err := NewSMTP(SMTPConfig{URL: "smtps://mail.example.com", From: "r@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.client.ServerAddr(); got != "mail.example.com:465" {
		t.Errorf("smtps address = %s, want port 465", got)
	}
}
