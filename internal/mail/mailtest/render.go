package mailtest

import (
	"fmt"
	"sync"

	"roster/internal/i18n"
	"roster/internal/mail"
)

var bundle = sync.OnceValues(i18n.New)

// Check renders a mail as a test recorder receives it — template and the
// data its caller sends — through the real templates and catalogs in every
// supported language, strictly (see mail.Check). Recorders return its
// error from EnqueueTx, as the real queue returns a render error, so the
// calling operation fails and so does the test.
func Check(template string, data map[string]any) error {
	b, err := bundle()
	if err != nil {
		return err
	}
	for _, lang := range i18n.Supported {
		if err := mail.Check(template, b.Localizer(lang), lang, data); err != nil {
			return fmt.Errorf("mailtest: %w", err)
		}
	}
	return nil
}
