// Package sshbench measures an SSH terminal server the way people feel it:
// how long a sign-in takes (TCP connect, key exchange, public-key
// authentication), how long until the first screen arrives, and how long a
// key press takes to come back as a redraw, with many sessions open at
// once. It also provides the bare Wish server (a one-line Bubble Tea model)
// that gpc is compared against.
package sshbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"sort"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// Options describe one measurement.
type Options struct {
	Addr     string
	Signer   gossh.Signer
	Sessions int
	// Joining is how many sessions sign in at the same time while the
	// Sessions are being opened (0: all at once, a thundering herd). The
	// later sessions sign in with the earlier ones open.
	Joining int
	// Key is what a session types to make the screen redraw ("?" toggles
	// help in gpc's screens); Presses how many times each session types it.
	Key     string
	Presses int
	// Timeout bounds each wait (sign-in, first frame, one redraw).
	Timeout       time.Duration
	Width, Height int
}

// Run is a set of open sessions and what was measured on them.
type Run struct {
	// Handshake is connect + key exchange + authentication; FirstFrame is
	// from the start of the connection to the first output with text;
	// Redraw is from a key press to the next output.
	Handshake, FirstFrame, Redraw []time.Duration
	// Failed counts sessions (or presses) that errored or timed out; Err is
	// the first such error.
	Failed int
	Err    error

	mu       sync.Mutex
	sessions []*sess
}

type sess struct {
	client *gossh.Client
	s      *gossh.Session
	in     io.WriteCloser
	mu     sync.Mutex
	n      int // bytes received
	wake   chan struct{}
	text   []byte
}

func (s *sess) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.n += len(p)
	if len(s.text) < 64<<10 {
		s.text = append(s.text, p...)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (s *sess) received() (int, []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n, s.text
}

var (
	csi = regexp.MustCompile(`\x1b\[[0-9;?<=>]*[ -/]*[@-~]`)
	osc = regexp.MustCompile(`\x1b\][^\x07\x1b]*(\x07|\x1b\\)`)
	esc = regexp.MustCompile(`\x1b[()][0-9A-Za-z]|\x1b[=>78]`)
	// word is what makes output a frame rather than terminal set-up.
	word = regexp.MustCompile(`[A-Za-z0-9]{2}`)
)

// HasText reports whether terminal output holds visible text once escape
// sequences are removed.
func HasText(b []byte) bool {
	b = osc.ReplaceAll(csi.ReplaceAll(b, nil), nil)
	return word.Match(esc.ReplaceAll(b, nil))
}

func (o *Options) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Width == 0 {
		o.Width, o.Height = 120, 40
	}
	if o.Key == "" {
		o.Key = "?"
	}
}

// Open signs in Sessions sessions at once, each with a PTY and a shell,
// measuring handshake and first-frame times. The sessions stay open (for
// Press and for measuring the server's memory) until Close.
func Open(ctx context.Context, o Options) *Run {
	o.defaults()
	r := &Run{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	joining := o.Joining
	if joining <= 0 || joining > o.Sessions {
		joining = o.Sessions
	}
	slots := make(chan struct{}, joining)
	for i := 0; i < o.Sessions; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			slots <- struct{}{}
			s, hs, ff, err := open(ctx, o)
			<-slots
			r.mu.Lock()
			defer r.mu.Unlock()
			if err != nil {
				r.fail(err)
				return
			}
			r.sessions = append(r.sessions, s)
			r.Handshake = append(r.Handshake, hs)
			r.FirstFrame = append(r.FirstFrame, ff)
		}()
	}
	close(start)
	wg.Wait()
	return r
}

func (r *Run) fail(err error) {
	r.Failed++
	if r.Err == nil {
		r.Err = err
	}
}

func open(ctx context.Context, o Options) (*sess, time.Duration, time.Duration, error) {
	t0 := time.Now()
	d := net.Dialer{Timeout: o.Timeout}
	conn, err := d.DialContext(ctx, "tcp", o.Addr)
	if err != nil {
		return nil, 0, 0, err
	}
	_ = conn.SetDeadline(time.Now().Add(o.Timeout))
	cc, chans, reqs, err := gossh.NewClientConn(conn, o.Addr, &gossh.ClientConfig{
		User:            "bench",
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(o.Signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), // a local benchmark against its own server
		Timeout:         o.Timeout,
	})
	if err != nil {
		conn.Close()
		return nil, 0, 0, fmt.Errorf("sign in: %w", err)
	}
	hs := time.Since(t0)
	_ = conn.SetDeadline(time.Time{})
	client := gossh.NewClient(cc, chans, reqs)
	s := &sess{client: client, wake: make(chan struct{}, 1)}
	fail := func(err error) (*sess, time.Duration, time.Duration, error) {
		client.Close()
		return nil, 0, 0, err
	}
	if s.s, err = client.NewSession(); err != nil {
		return fail(err)
	}
	s.s.Stdout, s.s.Stderr = s, s
	if s.in, err = s.s.StdinPipe(); err != nil {
		return fail(err)
	}
	if err := s.s.RequestPty("xterm-256color", o.Height, o.Width, gossh.TerminalModes{}); err != nil {
		return fail(err)
	}
	if err := s.s.Shell(); err != nil {
		return fail(err)
	}
	deadline := time.After(o.Timeout)
	for {
		if _, b := s.received(); HasText(b) {
			break
		}
		select {
		case <-s.wake:
		case <-deadline:
			_, b := s.received()
			return fail(fmt.Errorf("no first frame after %s (got %q)", o.Timeout, clip(b)))
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
	return s, hs, time.Since(t0), nil
}

// Press makes every open session type the key Presses times (all sessions
// at once, each waiting for its redraw before typing again) and records
// the key-to-redraw times.
func (r *Run) Press(ctx context.Context, o Options) {
	o.defaults()
	r.mu.Lock()
	ss := append([]*sess(nil), r.sessions...)
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < o.Presses; i++ {
				// Let the previous frame finish arriving before measuring.
				time.Sleep(20 * time.Millisecond)
				before, _ := s.received()
				t0 := time.Now()
				if _, err := s.in.Write([]byte(o.Key)); err != nil {
					r.mu.Lock()
					r.fail(err)
					r.mu.Unlock()
					return
				}
				if err := waitMore(ctx, s, before, o.Timeout); err != nil {
					r.mu.Lock()
					r.fail(fmt.Errorf("key %q: %w", o.Key, err))
					r.mu.Unlock()
					return
				}
				d := time.Since(t0)
				r.mu.Lock()
				r.Redraw = append(r.Redraw, d)
				r.mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func waitMore(ctx context.Context, s *sess, before int, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		if n, _ := s.received(); n > before {
			return nil
		}
		select {
		case <-s.wake:
		case <-deadline:
			return errors.New("no redraw")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Open is how many sessions are open.
func (r *Run) Open() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sessions)
}

// Close ends every session.
func (r *Run) Close() {
	r.mu.Lock()
	ss := r.sessions
	r.sessions = nil
	r.mu.Unlock()
	for _, s := range ss {
		s.s.Close()
		s.client.Close()
	}
}

// Percentile is the p-th percentile (0 < p <= 100, nearest rank) of ds.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	k := int(float64(len(s))*p/100+0.999999) - 1
	if k < 0 {
		k = 0
	}
	if k >= len(s) {
		k = len(s) - 1
	}
	return s[k]
}

func clip(b []byte) []byte {
	if len(b) > 120 {
		return b[:120]
	}
	return b
}
