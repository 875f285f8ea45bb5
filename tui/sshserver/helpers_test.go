package sshserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"gpcollections/keys"
	"gpcollections/tui/internal/fixture"
)

type testServer struct {
	srv     *Server
	addr    string
	hostKey gossh.PublicKey
	d       *fixture.Data
	served  chan error
}

// start runs a server for the fixture on a free 127.0.0.1 port; it is shut
// down when the test ends.
func start(t testing.TB, d *fixture.Data, mod func(*Config)) *testServer {
	t.Helper()
	hk, err := keys.LoadOrCreateHostKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Addr:          "127.0.0.1:0",
		HostKey:       hk,
		Store:         d.Store,
		Clock:         func() time.Time { return fixture.Now },
		MaxAuthTries:  6,
		AuthPerMinute: 10_000,
		ShutdownGrace: 2 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{srv: srv, addr: l.Addr().String(), hostKey: hk.PublicKey(), d: d, served: make(chan error, 1)}
	go func() { ts.served <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		select {
		case err := <-ts.served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Shutdown")
		}
	})
	return ts
}

func (ts *testServer) config(auth ...gossh.AuthMethod) *gossh.ClientConfig {
	return &gossh.ClientConfig{
		User:            "someone",
		Auth:            auth,
		HostKeyCallback: gossh.FixedHostKey(ts.hostKey),
		Timeout:         5 * time.Second,
	}
}

// dial signs in with the given keys, offered in order.
func (ts *testServer) dial(signers ...gossh.Signer) (*gossh.Client, error) {
	return gossh.Dial("tcp", ts.addr, ts.config(gossh.PublicKeys(signers...)))
}

func (ts *testServer) mustDial(t *testing.T, user string) *gossh.Client {
	t.Helper()
	c, err := ts.dial(ts.d.Signers[user])
	if err != nil {
		t.Fatalf("%s signs in: %v", user, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// command runs a command without a terminal.
func command(t *testing.T, c *gossh.Client, line string) (string, string, int) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr = &out, &errb
	err = s.Run(line)
	var ee *gossh.ExitError
	switch {
	case err == nil:
		return out.String(), errb.String(), 0
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitStatus()
	}
	t.Fatalf("run %q: %v", line, err)
	return "", "", -1
}

// term is an interactive session with a PTY. Like a script, it never
// answers terminal queries.
type term struct {
	s    *gossh.Session
	in   io.WriteCloser
	mu   sync.Mutex
	out  bytes.Buffer
	wake chan struct{}
	done chan error
}

func openTerm(t *testing.T, c *gossh.Client) *term {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	tm := &term{s: s, wake: make(chan struct{}, 1), done: make(chan error, 1)}
	s.Stdout, s.Stderr = tm, tm
	if tm.in, err = s.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPty("xterm-256color", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	go func() { tm.done <- s.Wait() }()
	t.Cleanup(func() { s.Close() })
	return tm
}

func (tm *term) Write(p []byte) (int, error) {
	tm.mu.Lock()
	tm.out.Write(p)
	tm.mu.Unlock()
	select {
	case tm.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (tm *term) text() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.String()
}

// waitFor waits until the output holds s, failing after timeout.
func (tm *term) waitFor(t *testing.T, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for !strings.Contains(tm.text(), s) {
		select {
		case <-tm.wake:
		case <-deadline:
			t.Fatalf("no %q after %s; screen so far:\n%q", s, timeout, tm.text())
		}
	}
}

// waitEnd waits for the session to end and returns its exit status.
func (tm *term) waitEnd(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case err := <-tm.done:
		var ee *gossh.ExitError
		if errors.As(err, &ee) {
			return ee.ExitStatus()
		}
		if err != nil {
			t.Fatalf("session: %v", err)
		}
		return 0
	case <-time.After(timeout):
		t.Fatalf("session still open after %s; screen:\n%q", timeout, tm.text())
	}
	return -1
}

func (tm *term) ended() bool {
	select {
	case err := <-tm.done:
		tm.done <- err
		return true
	default:
		return false
	}
}

func (tm *term) press(t *testing.T, keys string) {
	t.Helper()
	if _, err := tm.in.Write([]byte(keys)); err != nil {
		t.Fatalf("press %q: %v", keys, err)
	}
}

// badSigner offers one key's public half and signs with another, so its
// signature never verifies: it models a client offering someone else's
// public key without holding the private key.
type badSigner struct {
	pub  gossh.PublicKey
	sign gossh.Signer
}

func (b badSigner) PublicKey() gossh.PublicKey { return b.pub }
func (b badSigner) Sign(r io.Reader, data []byte) (*gossh.Signature, error) {
	return b.sign.Sign(r, data)
}

// offerOnly is a signer that only offers a public key: the first Marshal
// (the query) carries the real key, later ones do not match, so the client
// takes the server's "this key would do" as a no and never signs. It
// models a client offering a key it does not hold.
func offerOnly(pub gossh.PublicKey) gossh.Signer { return offered{pub: &onceKey{PublicKey: pub}} }

type offered struct{ pub *onceKey }

func (o offered) PublicKey() gossh.PublicKey { return o.pub }
func (o offered) Sign(io.Reader, []byte) (*gossh.Signature, error) {
	return nil, errors.New("offer only")
}

type onceKey struct {
	gossh.PublicKey
	calls int
}

func (k *onceKey) Marshal() []byte {
	k.calls++
	if k.calls == 1 {
		return k.PublicKey.Marshal()
	}
	return []byte("not the offered key")
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
