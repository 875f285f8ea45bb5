package ops

import (
	"strings"
	"testing"

	"gpcollections/domain"
)

func TestUserAdministrationRefusalsSayWhy(t *testing.T) {
	w := newWF(t)
	admin := w.u("admin")
	k := domain.PublicKey{Fingerprint: "SHA256:ann-laptop", Line: "ssh-ed25519 AAAA ann", Added: domain.MustDate("2026-04-01")}
	if err := AddKey(w.s, admin, "ann", k); err != nil {
		t.Fatal(err)
	}
	// A practice's own user administrator manages its users, nobody else's.
	if err := Grant(w.s, admin, "ann", "A81001", []domain.Role{domain.RoleUserAdministration}); err != nil {
		t.Fatal(err)
	}
	ann, err := Actor(w.s, "ann") // as now stored, with the new grant
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"same key twice", AddKey(w.s, admin, "ann", k), "already has key SHA256:ann-laptop"},
		{"key another user holds", AddKey(w.s, admin, "bob", k), "already belongs to user ann"},
		{"remove a key not held", RemoveKey(w.s, admin, "ann", "SHA256:nope"), "has no key SHA256:nope"},
		{"disable yourself", SetDisabled(w.s, admin, "admin", true), "cannot disable your own account"},
		{"another practice's user", SetDisabled(w.s, ann, "bob", true), "ann may not manage users"},
		{"grant for another practice", Grant(w.s, ann, "bob", "A81002", []domain.Role{domain.RoleView}), "ann may not manage users"},
		{"revoke a role not held", Revoke(w.s, admin, "bob", "A81002", []domain.Role{domain.RoleUserAdministration}), "does not hold user-administration@A81002"},
	}
	for _, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, c.err, c.want)
		}
	}
	// Ann administers her own practice's users.
	if err := RemoveKey(w.s, ann, "ann", k.Fingerprint); err != nil {
		t.Fatalf("own practice: %v", err)
	}
	if err := SetDisabled(w.s, admin, "bob", true); err != nil {
		t.Fatal(err)
	}
	if _, err := Actor(w.s, "bob"); err == nil || !strings.Contains(err.Error(), "disabled") {
		t.Fatalf("a disabled user acted: %v", err)
	}
}
