package keys

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHostKeyIsCreatedOnceAndKeptPrivate(t *testing.T) {
	dir := t.TempDir()
	first, err := LoadOrCreateHostKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, HostKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("host key mode %04o, want 0600", st.Mode().Perm())
	}
	if first.PublicKey().Type() != "ssh-ed25519" {
		t.Fatalf("host key type %s", first.PublicKey().Type())
	}
	again, err := LoadOrCreateHostKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.PublicKey().Marshal(), again.PublicKey().Marshal()) {
		t.Fatal("a second start made a new host key; clients would see a changed host")
	}
	pub, err := os.ReadFile(filepath.Join(dir, HostKeyFile+".pub"))
	if err != nil || !strings.HasPrefix(string(pub), "ssh-ed25519 ") {
		t.Fatalf("public half: %q %v", pub, err)
	}
}

func TestHostKeyReadableByOthersIsRefused(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreateHostKey(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, HostKeyFile)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadOrCreateHostKey(dir)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("open host key accepted or unclear: %v", err)
	}
}

func TestCorruptHostKeyIsNotReplaced(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, HostKeyFile)
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateHostKey(dir); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("corrupt host key: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "not a key" {
		t.Fatal("corrupt host key was overwritten")
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestLimiterTokenBucketPerAddress(t *testing.T) {
	c := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := NewLimiter(3, c.now)
	for i := 0; i < 3; i++ {
		if !l.Allow("10.0.0.1") {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	if l.Allow("10.0.0.1") || !l.Exhausted("10.0.0.1") {
		t.Fatal("a fourth attempt within the minute was allowed")
	}
	if got := l.RetryAfter("10.0.0.1"); got != 20*time.Second {
		t.Fatalf("retry after %s, want 20s (3 a minute)", got)
	}
	if !l.Allow("10.0.0.2") {
		t.Fatal("another address was throttled")
	}
	c.t = c.t.Add(20 * time.Second)
	if !l.Allow("10.0.0.1") || l.Allow("10.0.0.1") {
		t.Fatal("refill is not one token per 20s")
	}
	c.t = c.t.Add(time.Hour)
	for i := 0; i < 3; i++ {
		if !l.Allow("10.0.0.1") {
			t.Fatal("bucket did not refill to its burst")
		}
	}
	if l.Allow("10.0.0.1") {
		t.Fatal("bucket refilled past its burst")
	}
}

func TestLimiterDisabledAndForgetful(t *testing.T) {
	off := NewLimiter(0, nil)
	for i := 0; i < 1000; i++ {
		if !off.Allow("h") {
			t.Fatal("a disabled limiter refused")
		}
	}
	c := &fakeClock{t: time.Unix(0, 0)}
	l := NewLimiter(60, c.now)
	for i := 0; i < maxTracked; i++ {
		l.Allow(net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)).String())
	}
	c.t = c.t.Add(2 * time.Minute)
	l.Allow("192.0.2.1")
	if n := l.Tracked(); n > maxTracked/2+1 {
		t.Fatalf("limiter keeps %d addresses after they all refilled", n)
	}
}

func TestHostGroupsIPv6ByNetwork(t *testing.T) {
	a := Host(&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:aaaa::1"), Port: 1})
	b := Host(&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:bbbb::9"), Port: 2})
	if a != b || a != "2001:db8:1:2::/64" {
		t.Fatalf("IPv6 hosts %q and %q", a, b)
	}
	if h := Host(&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 5}); h != "127.0.0.1" {
		t.Fatalf("IPv4 host %q", h)
	}
}

func TestRefundReturnsOneTokenUpToTheBurst(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0)}
	l := NewLimiter(2, c.now)
	l.Allow("h")
	l.Allow("h")
	l.Refund("h")
	if !l.Allow("h") || l.Allow("h") {
		t.Fatal("a refund is not exactly one attempt")
	}
	l.Refund("h")
	l.Refund("h")
	l.Refund("h")
	if !l.Allow("h") || !l.Allow("h") || l.Allow("h") {
		t.Fatal("refunds exceeded the burst")
	}
}
