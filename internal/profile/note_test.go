package profile_test

import (
	"context"
	"testing"

	"roster/internal/core"
	"roster/internal/profile"
	"roster/internal/store"
	"roster/internal/store/storetest"
)

// TestNoteAboutYourselfOnlyByAdmin: a holder of profile access writes the
// notes of others but not the one about themselves, which they still read;
// an admin writes any note, their own included.
func TestNoteAboutYourselfOnlyByAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		if _, err := f.prof.Update(ctx, f.admin, f.access.ID, profile.Changes{Note: ptr("Team lead")}, ""); err != nil {
			t.Fatalf("admin writes the note: %v", err)
		}
		if _, err := f.prof.Update(ctx, f.access, f.access.ID, profile.Changes{Note: ptr("Best employee")}, ""); core.ErrorCode(err) != core.EFORBIDDEN {
			t.Fatalf("profile access wrote the note about themselves: %v", err)
		}
		own, err := f.prof.Get(ctx, f.access, f.access.ID)
		if err != nil || own.User.Note != "Team lead" || !own.NoteVisible || own.NoteEditable {
			t.Fatalf("own profile with profile access: %+v %v; want the note visible, not editable", own, err)
		}
		if p, _ := f.prof.Get(ctx, f.access, f.plain.ID); !p.NoteVisible || !p.NoteEditable {
			t.Fatalf("another user's profile with profile access: %+v", p)
		}
		if _, err := f.prof.Update(ctx, f.access, f.plain.ID, profile.Changes{Note: ptr("Prefers email")}, ""); err != nil {
			t.Fatalf("profile access writes another user's note: %v", err)
		}
		if p, err := f.prof.Update(ctx, f.admin, f.admin.ID, profile.Changes{Note: ptr("Founder")}, ""); err != nil || p.User.Note != "Founder" || !p.NoteEditable {
			t.Fatalf("admin writes their own note: %+v %v", p, err)
		}
		if p, _ := f.prof.Get(ctx, f.plain, f.plain.ID); p.NoteVisible || p.NoteEditable {
			t.Fatalf("plain user's own profile: %+v", p)
		}
	})
}
