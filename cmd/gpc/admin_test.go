package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"gpcollections/domain"
	"gpcollections/store"
)

// gpc runs the command in-process and returns its output and error.
func gpc(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func mustGPC(t *testing.T, args ...string) string {
	t.Helper()
	out, err := gpc(t, args...)
	if err != nil {
		t.Fatalf("gpc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func newKey(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path).CombinedOutput(); err != nil {
		t.Skipf("ssh-keygen unavailable: %v %s", err, out)
	}
	return path + ".pub"
}

// initData creates a data dir with an admin, a commissioner, a practice and
// a practice user.
func initData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	key := newKey(t, dir, "admin")
	out := mustGPC(t, "init", "--data", data, "--admin-key", key)
	if !strings.Contains(out, "administrator admin (key SHA256:") {
		t.Fatalf("init output: %s", out)
	}
	mustGPC(t, "org", "add", "QWE", "--kind", "commissioner", "--name", "South West London ICB", "--data", data)
	mustGPC(t, "org", "add", "A81001", "--commissioner", "QWE", "--name", "Marsh Lane", "--list-size", "9120", "--list-from", "2026-01-01", "--data", data)
	mustGPC(t, "user", "add", "ann", "--name", "Ann Smith", "--bundle", "practice-staff", "--org", "A81001", "--key", newKey(t, dir, "ann"), "--data", data)
	return data
}

func TestInitOrgUserCommands(t *testing.T) {
	data := initData(t)
	out := mustGPC(t, "user", "list", "--json", "--data", data)
	var users []domain.User
	if err := json.Unmarshal([]byte(out), &users); err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || users[1].Name != "ann" || len(users[1].Grants) != 5 || len(users[1].Keys) != 1 {
		t.Fatalf("users: %+v", users)
	}
	// A practice user sees only users of their own practice.
	out = mustGPC(t, "user", "list", "--as", "ann", "--data", data)
	if strings.Contains(out, "admin") || !strings.Contains(out, "ann") {
		t.Fatalf("ann's user list: %s", out)
	}
	mustGPC(t, "user", "grant", "ann", "--role", "user-administration", "--org", "A81001", "--data", data)
	mustGPC(t, "user", "revoke", "ann", "--role", "user-administration", "--org", "A81001", "--data", data)
	out = mustGPC(t, "org", "list", "--kind", "practice", "--data", data)
	if !strings.Contains(out, "A81001") || strings.Contains(out, "\nQWE") || !strings.Contains(out, "9120") {
		t.Fatalf("org list: %s", out)
	}
}

func TestBadInputRefusedWithReason(t *testing.T) {
	data := initData(t)
	before, err := store.Check(data, false)
	if err != nil || !before.OK() {
		t.Fatalf("setup: %+v %v", before, err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"org", "add", "A8100", "--commissioner", "QWE", "--name", "x"}, "an ODS practice code is a capital letter and five digits"},
		{[]string{"org", "add", "A81002", "--commissioner", "QZZ", "--name", "x"}, "organisation QZZ: not found"},
		{[]string{"user", "add", "ann", "--bundle", "practice-staff", "--org", "A81001"}, "already exists"},
		{[]string{"user", "add", "bob", "--bundle", "commissioner-approver", "--org", "A81001"}, "cannot be held for a practice"},
		{[]string{"user", "add", "bob", "--bundle", "practice-staff", "--org", "A99999"}, "organisation A99999: not found"},
		{[]string{"user", "add", "cat", "--as", "ann"}, "ann may not manage users"},
		{[]string{"user", "list", "--as", "nobody"}, "user nobody: not found"},
		{[]string{"user", "grant", "ann", "--bundle", "no-such"}, `role bundle "no-such": not a bundle`},
	}
	for _, c := range cases {
		out, err := gpc(t, append(c.args, "--data", data)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("gpc %v: got %v (%s), want %q", c.args, err, out, c.want)
		}
	}
	// Nothing was changed by any of them: the ledger has only the setup.
	rep, err := store.Check(data, false)
	if err != nil || !rep.OK() || rep.AuditEntries != before.AuditEntries {
		t.Fatalf("after refusals: %d audit entries, before %d; %v %v", rep.AuditEntries, before.AuditEntries, rep.Problems, err)
	}
}

func TestBackupRestoreCheckCommands(t *testing.T) {
	data := initData(t)
	backup := filepath.Join(t.TempDir(), "backup.db")
	mustGPC(t, "backup", "--to", backup, "--data", data)
	mustGPC(t, "check", "--file", backup, "--data", data)
	other := filepath.Join(t.TempDir(), "restored")
	out := mustGPC(t, "restore", "--from", backup, "--data", other)
	if !strings.Contains(out, "restored") {
		t.Fatal(out)
	}
	out = mustGPC(t, "user", "list", "--data", other)
	if !strings.Contains(out, "Ann Smith") {
		t.Fatalf("restored users: %s", out)
	}
	// Tamper with one audit entry byte: check fails with status 2 and names it.
	path := filepath.Join(other, store.DBFile)
	raw, _ := os.ReadFile(path)
	i := bytes.Index(raw, []byte(`commissioner QWE \"South West London ICB`))
	if i < 0 {
		t.Fatal("audit text not found")
	}
	raw[i+19] ^= 0x20 // the 'S' of South becomes 's'
	_ = os.WriteFile(path, raw, 0o600)
	out, err := gpc(t, "check", "--data", other)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(out, "audit ledger entry") {
		t.Fatalf("check after tamper: %v\n%s", err, out)
	}
}

func TestDataInUseSaysSo(t *testing.T) {
	data := initData(t)
	s, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = gpc(t, "user", "list", "--data", data)
	if err == nil || !strings.Contains(err.Error(), "locked by another gpc process") || !strings.Contains(err.Error(), filepath.Join(data, store.DBFile)) {
		t.Fatalf("got %v", err)
	}
}

func TestConfigPrecedence(t *testing.T) {
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, ConfigFile), []byte("as = \"from-file\"\nlisten = \"127.0.0.1:1\"\nworkers = 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func(args ...string) Config {
		t.Helper()
		var got Config
		root := newRoot()
		probe := &cobra.Command{Use: "probe", RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			got, err = loadConfig(cmd)
			return err
		}}
		addConfigFlags(probe, "listen", "workers")
		root.AddCommand(probe)
		root.SetArgs(append([]string{"probe", "--data", data}, args...))
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		return got
	}
	c := load()
	if c.As != "from-file" || c.Listen != "127.0.0.1:1" || c.Workers != 3 || c.MaxAuthTries != 3 {
		t.Fatalf("file over defaults: %+v", c)
	}
	t.Setenv("GPC_AS", "from-env")
	t.Setenv("GPC_WORKERS", "5")
	t.Setenv("GPC_STRICT", "true")
	c = load()
	if c.As != "from-env" || c.Workers != 5 || c.Listen != "127.0.0.1:1" || !c.Strict {
		t.Fatalf("env over file: %+v", c)
	}
	c = load("--as", "from-flag", "--workers", "7")
	if c.As != "from-flag" || c.Workers != 7 {
		t.Fatalf("flag over env: %+v", c)
	}
	if err := os.WriteFile(filepath.Join(data, ConfigFile), []byte("colour = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := newRoot()
	probe := &cobra.Command{Use: "probe", RunE: func(cmd *cobra.Command, _ []string) error { _, err := loadConfig(cmd); return err }}
	root.AddCommand(probe)
	root.SetArgs([]string{"probe", "--data", data})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), `unknown setting "colour"`) {
		t.Fatalf("unknown setting: %v", err)
	}
}
