package sshserver

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	gossh "golang.org/x/crypto/ssh"

	"gpcollections/domain"
	"gpcollections/store"
	"gpcollections/store/ops"
	"gpcollections/tui/commands"
	"gpcollections/tui/internal/fixture"
	"gpcollections/tui/session"
)

const wait = 5 * time.Second

func TestEveryRoleBundleSignsIn(t *testing.T) {
	d := fixture.New(t)
	ts := start(t, d, nil)
	for _, b := range domain.Bundles {
		name := fixture.Users[b.Name]
		t.Run(b.Name, func(t *testing.T) {
			c := ts.mustDial(t, name)
			tm := openTerm(t, c)
			tm.waitFor(t, "signed in as "+name, wait)
			tm.waitFor(t, "1 collections on the timetable", wait)
			tm.press(t, "q")
			if st := tm.waitEnd(t, wait); st != 0 {
				t.Fatalf("quit: status %d", st)
			}
			out, _, st := command(t, c, "whoami --json")
			var w commands.WhoAmI
			if st != 0 || json.Unmarshal([]byte(out), &w) != nil || w.User != name || w.Key != fixture.PublicKey(t, d.Signers[name]).Fingerprint {
				t.Fatalf("whoami: %d %q", st, out)
			}
		})
	}
}

func TestUnknownKeyIsRefusedWithAMessage(t *testing.T) {
	d := fixture.New(t)
	ts := start(t, d, nil)
	stranger := fixture.NewKey(t)
	if c, err := ts.dial(stranger); err == nil {
		c.Close()
		t.Fatal("an unregistered key signed in")
	}
	// An interactive client is told why, naming the key it offered.
	var told string
	cfg := ts.config(gossh.PublicKeys(stranger), gossh.KeyboardInteractive(func(name, instruction string, qs []string, echo []bool) ([]string, error) {
		told += instruction
		return nil, nil
	}))
	if c, err := gossh.Dial("tcp", ts.addr, cfg); err == nil {
		c.Close()
		t.Fatal("keyboard-interactive signed someone in")
	}
	fp := gossh.FingerprintSHA256(stranger.PublicKey())
	if !strings.Contains(told, "not registered") || !strings.Contains(told, fp) {
		t.Fatalf("refusal message %q does not name the key %s", told, fp)
	}
	// No key at all: no anonymous access either.
	if c, err := gossh.Dial("tcp", ts.addr, ts.config()); err == nil {
		c.Close()
		t.Fatal("a client with no key signed in")
	}
}

// The attack: offer the administrator's public key (which the server
// accepts as a candidate: it is registered), then sign with your own.
// The session must belong to the key that signed, never to the one offered.
func TestOfferedKeyIsNotIdentity(t *testing.T) {
	d := fixture.New(t)
	var logs syncBuffer
	ts := start(t, d, func(c *Config) {
		c.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	admin := d.Signers["admin"].PublicKey()
	pat := d.Signers["pat"]
	stranger := fixture.NewKey(t)

	// Order matters for the classic bug (identity recorded by the key
	// callback): pat's key is checked, then the admin's key is offered and
	// accepted as a candidate, and then pat's signature is verified with
	// no further callback (the server caches pat's answer).
	c, err := ts.dial(offerOnly(pat.PublicKey()), offerOnly(admin), pat)
	if err != nil {
		t.Fatalf("pat signs in after the offer: %v", err)
	}
	defer c.Close()
	adminFP := gossh.FingerprintSHA256(admin)
	if !strings.Contains(logs.String(), adminFP) {
		t.Fatalf("the admin's key was never offered to the server (log: %s)", logs.String())
	}
	out, _, st := command(t, c, "whoami --json")
	var w commands.WhoAmI
	if st != 0 || json.Unmarshal([]byte(out), &w) != nil {
		t.Fatalf("whoami: %d %q", st, out)
	}
	if w.User != "pat" || w.Key != gossh.FingerprintSHA256(pat.PublicKey()) {
		t.Fatalf("offering the admin's key made the session %q (key %s)", w.User, w.Key)
	}
	if _, errs, st := command(t, c, "export --service QOF2526 --date 2026-03-31 --status all"); st != commands.StatusRefused {
		t.Fatalf("pat exported with the admin's offered key: %d %q", st, errs)
	}
	tm := openTerm(t, c)
	tm.waitFor(t, "signed in as pat", wait)

	// Offering the admin's key and signing with an unregistered one.
	if c, err := ts.dial(offerOnly(admin), stranger); err == nil {
		c.Close()
		t.Fatal("an unregistered key signed in after offering the admin's key")
	}
	// Presenting the admin's key with a signature made by another key.
	if c, err := ts.dial(badSigner{pub: admin, sign: stranger}); err == nil {
		c.Close()
		t.Fatal("a signature by the wrong key was accepted for the admin's key")
	}
}

func TestRapidFailedAttemptsAreThrottled(t *testing.T) {
	d := fixture.New(t)
	ts := start(t, d, func(c *Config) { c.AuthPerMinute = 4; c.MaxAuthTries = 2 })
	stranger := fixture.NewKey(t)
	for i := 0; i < 4; i++ {
		if c, err := ts.dial(stranger); err == nil {
			c.Close()
			t.Fatal("stranger signed in")
		}
	}
	// The address has used its attempts: even a registered key is turned
	// away now, before the key exchange.
	c, err := ts.dial(d.Signers["pat"])
	if err == nil {
		c.Close()
		t.Fatal("a throttled address signed in")
	}
	if strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("throttled connection reached authentication: %v", err)
	}
}

// Successful sign-ins give their attempt back: a practice's staff behind
// one address are not throttled for signing in.
func TestSuccessfulSignInsAreNotThrottled(t *testing.T) {
	d := fixture.New(t)
	ts := start(t, d, func(c *Config) { c.AuthPerMinute = 2 })
	for i := 0; i < 6; i++ {
		c, err := ts.dial(d.Signers[[]string{"pat", "pam", "cora"}[i%3]])
		if err != nil {
			t.Fatalf("sign-in %d: %v", i+1, err)
		}
		if _, _, st := command(t, c, "whoami"); st != 0 {
			t.Fatalf("sign-in %d: whoami status %d", i+1, st)
		}
		c.Close()
	}
	stranger := fixture.NewKey(t)
	for i := 0; i < 2; i++ {
		if c, err := ts.dial(stranger); err == nil {
			c.Close()
			t.Fatal("stranger signed in")
		}
	}
	if c, err := ts.dial(d.Signers["pat"]); err == nil {
		c.Close()
		t.Fatal("failed attempts were refunded too")
	}
}

func TestMaxAuthTriesEndsTheConnection(t *testing.T) {
	d := fixture.New(t)
	ts := start(t, d, func(c *Config) { c.MaxAuthTries = 2 })
	var unknown []gossh.Signer
	for i := 0; i < 4; i++ {
		unknown = append(unknown, fixture.NewKey(t))
	}
	// x/crypto lets a client ask about MaxAuthTries keys for free, and
	// counts every refusal after that: with 2 tries, four refused keys end
	// the connection and pat's key offered fifth is never considered.
	_, err := ts.dial(append(unknown, d.Signers["pat"])...)
	if err == nil {
		t.Fatal("signed in after exceeding max auth tries")
	}
	if c, err := ts.dial(unknown[0], unknown[1], d.Signers["pat"]); err != nil {
		t.Fatalf("within the tries pat signs in: %v", err)
	} else {
		c.Close()
	}
}

func TestDisabledUserIsRefusedAndSignedOut(t *testing.T) {
	d := fixture.New(t)
	// The periodic re-check is far off: the change itself must end it.
	ts := start(t, d, func(c *Config) { c.RecheckEvery = time.Hour })
	c := ts.mustDial(t, "pam")
	tm := openTerm(t, c)
	tm.waitFor(t, "signed in as pam", wait)
	if err := ops.SetDisabled(d.Store, d.Admin, "pam", true); err != nil {
		t.Fatal(err)
	}
	if st := tm.waitEnd(t, wait); st == 0 {
		t.Fatal("disabled user's session ended with status 0")
	}
	if !strings.Contains(tm.text(), "disabled") {
		t.Fatalf("not told why: %q", tm.text())
	}
	if c, err := ts.dial(d.Signers["pam"]); err == nil {
		c.Close()
		t.Fatal("a disabled user signed in")
	}
}

func TestIdleSessionClosesDespiteServerOutput(t *testing.T) {
	d := fixture.New(t)
	ts := start(t, d, func(c *Config) { c.IdleTimeout = 600 * time.Millisecond })
	tm := openTerm(t, ts.mustDial(t, "pat"))
	tm.waitFor(t, "signed in as pat", wait)
	// Key presses keep it open past the timeout...
	for i := 0; i < 6; i++ {
		time.Sleep(200 * time.Millisecond)
		tm.press(t, "?")
	}
	if tm.ended() {
		t.Fatalf("session closed while the user was typing: %q", tm.text())
	}
	// ...while server output (live updates redrawing the screen) does not.
	stop := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			_ = d.Store.Update(d.Admin, func(tx *store.Tx) error {
				tx.Notify(store.Change{Kind: "collection"})
				return nil
			})
		}
	}()
	defer close(stop)
	if st := tm.waitEnd(t, wait); st != 1 {
		t.Fatalf("idle close status %d", st)
	}
	if !strings.Contains(tm.text(), "no key press for 600ms") {
		t.Fatalf("not told why: %q", tm.text())
	}
}

func TestSessionPastMaxLengthCloses(t *testing.T) {
	d := fixture.New(t)
	ts := start(t, d, func(c *Config) { c.MaxSession = 700 * time.Millisecond })
	c := ts.mustDial(t, "cora")
	tm := openTerm(t, c)
	tm.waitFor(t, "signed in as cora", wait)
	done := make(chan struct{})
	go func() {
		for !tm.ended() {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
				_, _ = tm.in.Write([]byte("?"))
			}
		}
	}()
	defer close(done)
	if st := tm.waitEnd(t, wait); st != 1 {
		t.Fatalf("status %d", st)
	}
	if !strings.Contains(tm.text(), "time limit of 700ms") {
		t.Fatalf("not told why: %q", tm.text())
	}
}

// panicky is a screen that panics on "p", and shows key presses.
type panicky struct{ presses int }

func (m *panicky) Init() tea.Cmd { return nil }
func (m *panicky) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if k, ok := msg.(tea.KeyMsg); ok {
		switch k.String() {
		case "p":
			panic("screen bug")
		case "q":
			return m, tea.Quit
		}
		m.presses++
	}
	return m, nil
}
func (m *panicky) View() string { return fmt.Sprintf("presses: %d\n", m.presses) }

func TestPanicInOneSessionLeavesOthersRunning(t *testing.T) {
	d := fixture.New(t)
	ts := start(t, d, func(c *Config) {
		c.Factory = func(ctx session.Context) tea.Model {
			if ctx.User.Name == "finn" {
				panic("factory bug")
			}
			return &panicky{}
		}
	})
	a := openTerm(t, ts.mustDial(t, "pat"))
	b := openTerm(t, ts.mustDial(t, "cora"))
	a.waitFor(t, "presses: 0", wait)
	b.waitFor(t, "presses: 0", wait)
	a.press(t, "p")
	if st := a.waitEnd(t, wait); st != 1 {
		t.Fatalf("panicking session status %d", st)
	}
	if !strings.Contains(a.text(), "something went wrong") {
		t.Fatalf("panicking session not told: %q", a.text())
	}
	// A panic outside the screen (building it) is caught too.
	f := openTerm(t, ts.mustDial(t, "finn"))
	if st := f.waitEnd(t, wait); st != 1 {
		t.Fatalf("factory panic status %d", st)
	}
	// The other session still answers, and new sessions are served.
	b.press(t, "x")
	b.waitFor(t, "presses: 1", wait)
	c := openTerm(t, ts.mustDial(t, "sue"))
	c.press(t, "x")
	c.waitFor(t, "presses: 1", wait)
	if _, _, st := command(t, ts.mustDial(t, "sue"), "whoami"); st != 0 {
		t.Fatalf("commands after a panic: status %d", st)
	}
}

// listWatch shows practice A's list size and, on "+", raises it through
// ops (as its user); every session re-reads on Invalidate.
type listWatch struct {
	ctx  session.Context
	size int64
	err  error
}

func (m *listWatch) read() {
	m.err = m.ctx.Store.View(func(tx *store.Tx) error {
		o, err := tx.Org(fixture.PracticeA)
		if err == nil {
			m.size, _ = o.ListSizeOn(domain.MustDate("2026-01-01"))
		}
		return err
	})
}
func (m *listWatch) Init() tea.Cmd { return nil }
func (m *listWatch) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyMsg:
		if msg.String() == "+" {
			m.err = ops.SetListSize(m.ctx.Store, m.ctx.User, fixture.PracticeA, domain.MustDate("2025-01-01"), m.size+1)
		}
	case session.Invalidate:
		m.read()
	}
	return m, nil
}
func (m *listWatch) View() string { return fmt.Sprintf("list size %d err %v\n", m.size, m.err) }

func TestTwoSessionsSeeEachOthersChangesLive(t *testing.T) {
	d := fixture.New(t)
	ts := start(t, d, func(c *Config) {
		c.Factory = func(ctx session.Context) tea.Model { m := &listWatch{ctx: ctx}; m.read(); return m }
	})
	admin := openTerm(t, ts.mustDial(t, "admin"))
	watcher := openTerm(t, ts.mustDial(t, "sue"))
	admin.waitFor(t, "list size 9120 err <nil>", wait)
	watcher.waitFor(t, "list size 9120 err <nil>", wait)
	began := time.Now()
	admin.press(t, "+")
	// The watcher never polls: only the hub's invalidation can bring the
	// change. The delay is logged, not asserted (the hub coalesces for
	// 100 ms; a loaded CI machine must not make this test flaky).
	watcher.waitFor(t, "list size 9121", wait)
	t.Logf("change seen by the other session after %s", time.Since(began))
	admin.waitFor(t, "list size 9121 err <nil>", wait)
	// The one policy still applies: support may not change list sizes.
	watcher.press(t, "+")
	watcher.waitFor(t, "may not manage orgs", wait)
}

func TestCommandsOverSSH(t *testing.T) {
	d := fixture.New(t)
	ts := start(t, d, nil)
	pat := ts.mustDial(t, "pat")
	out, _, st := command(t, pat, "timetable --json")
	var rows []commands.TimetableRow
	if st != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 || rows[0].ID != d.Collection {
		t.Fatalf("timetable: %d %q", st, out)
	}
	out, errs, st := command(t, pat, "achievement --service QOF2526 --date 2026-03-31 --json")
	var a commands.Achievement
	if st != 0 || json.Unmarshal([]byte(out), &a) != nil || a.Practice != fixture.PracticeA {
		t.Fatalf("achievement: %d %q %q", st, out, errs)
	}
	out, errs, st = command(t, pat, "no-such-command")
	if st != commands.StatusUsage || out != "" || !strings.Contains(errs, "usage:") {
		t.Fatalf("unknown command: %d %q %q", st, out, errs)
	}
	_, errs, st = command(t, pat, "timetable 'unbalanced")
	if st != commands.StatusUsage || !strings.Contains(errs, "unterminated") {
		t.Fatalf("bad quoting: %d %q", st, errs)
	}
	_, errs, st = command(t, pat, "")
	if st != commands.StatusUsage {
		t.Fatalf("no command, no terminal: %d %q", st, errs)
	}
	// Another practice's values, by every command that could show them.
	secret := strconv.FormatInt(fixture.Values[fixture.PracticeB][3], 10)
	for _, line := range []string{
		"achievement --service QOF2526 --date 2026-03-31 --practice A81002 --json",
		"export --service QOF2526 --date 2026-03-31 --status all",
		"export --service QOF2526 --date 2026-03-31 --json",
	} {
		out, errs, st := command(t, pat, line)
		if st != commands.StatusRefused || out != "" || strings.Contains(errs, secret) {
			t.Errorf("%q: status %d out %q err %q", line, st, out, errs)
		}
	}
	for _, line := range []string{"queue --json", "timetable", "whoami"} {
		out, _, st := command(t, pat, line)
		if st != 0 || strings.Contains(out, fixture.PracticeB) {
			t.Errorf("%q: status %d shows %s: %q", line, st, fixture.PracticeB, out)
		}
	}
	// The commissioner sees both of its practices' values.
	cora := ts.mustDial(t, "cora")
	out, _, st = command(t, cora, "achievement --service QOF2526 --date 2026-03-31 --practice A81002 --json")
	if st != 0 || !strings.Contains(out, `"numerator": `+secret) {
		t.Fatalf("commissioner reads its practice: %d %q", st, out)
	}
}

// A client that never answers terminal queries (a script, an emulated
// PTY) gets its first frame without the server waiting for an answer, and
// the key it types at once is not swallowed by a query reader.
func TestFirstFrameWithoutTerminalAnswers(t *testing.T) {
	d := fixture.New(t)
	ts := start(t, d, func(c *Config) {
		c.Factory = func(ctx session.Context) tea.Model { return &panicky{} }
	})
	tm := openTerm(t, ts.mustDial(t, "pat"))
	tm.press(t, "x") // typed before any frame arrived
	tm.waitFor(t, "presses: 1", wait)
	screen := tm.text()
	for _, q := range []string{"\x1b]11;?", "\x1b[c"} {
		if strings.Contains(screen, q) {
			t.Fatalf("the server queried the terminal (%q): %q", q, screen)
		}
	}
	if strings.Contains(screen, "presses: 0") && !strings.Contains(screen, "presses: 1") {
		t.Fatal("first key lost")
	}
}

func TestShutdownTellsSessionsAndWaits(t *testing.T) {
	d := fixture.New(t)
	ts := start(t, d, nil)
	tm := openTerm(t, ts.mustDial(t, "pat"))
	tm.waitFor(t, "signed in as pat", wait)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if st := tm.waitEnd(t, wait); st != 1 {
		t.Fatalf("status %d", st)
	}
	if !strings.Contains(tm.text(), "server shutting down") {
		t.Fatalf("not told: %q", tm.text())
	}
	if ts.srv.Sessions() != 0 {
		t.Fatalf("%d sessions left", ts.srv.Sessions())
	}
	if c, err := ts.dial(d.Signers["pat"]); err == nil {
		c.Close()
		t.Fatal("connected after shutdown")
	}
}

func TestCommandWithATerminalRunsTheCommand(t *testing.T) {
	d := fixture.New(t)
	ts := start(t, d, nil)
	s, err := ts.mustDial(t, "pat").NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out, err := s.CombinedOutput("whoami")
	if err != nil || !strings.Contains(string(out), "pat (Pat Practice)") {
		t.Fatalf("ssh -t HOST whoami: %v %q", err, out)
	}
}

func TestScreenIsWarnedBeforeTheLimits(t *testing.T) {
	d := fixture.New(t)
	ts := start(t, d, func(c *Config) { c.IdleTimeout = 2 * time.Second })
	tm := openTerm(t, ts.mustDial(t, "pat"))
	tm.waitFor(t, "signed in as pat", wait)
	// A tenth of the timeout before it: the placeholder shows the warning.
	tm.waitFor(t, "press a key to stay", wait)
	if tm.ended() {
		t.Fatal("ended at the warning")
	}
	tm.waitEnd(t, wait)
}
