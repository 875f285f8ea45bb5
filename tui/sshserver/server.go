// Package sshserver serves gpc over SSH with Wish: public-key sign-in bound
// to the key that actually signed (package keys), a Bubble Tea program per
// terminal session built by a screen factory, plain commands for sessions
// without a terminal, live updates through the hub, and the session limits
// (idle from the last key press, maximum length, attempts per address).
package sshserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/ssh"
	"github.com/charmbracelet/wish"
	gossh "golang.org/x/crypto/ssh"

	"gpcollections/domain"
	"gpcollections/keys"
	"gpcollections/store"
	"gpcollections/tui/commands"
	"gpcollections/tui/hub"
	"gpcollections/tui/session"
)

// Config is everything the server needs. Zero durations mean "no limit"
// except where a default is stated.
type Config struct {
	// Addr to listen on for ListenAndServe, e.g. "127.0.0.1:23234".
	Addr string
	// HostKey is the server's key (keys.LoadOrCreateHostKey).
	HostKey gossh.Signer
	Store   *store.Store
	// Factory makes each terminal session's root screen; nil serves the
	// Placeholder.
	Factory session.Factory
	// Hub relays changes between sessions; nil makes one attached to Store.
	Hub *hub.Hub
	// Scheduler is handed to screens; may be nil.
	Scheduler session.Scheduler
	// Clock is the screens' time source (default time.Now). Session limits
	// always run on real time.
	Clock func() time.Time

	// IdleTimeout closes a terminal session this long after the user's
	// last key press (server output does not count).
	IdleTimeout time.Duration
	// MaxSession closes any session this long after it began.
	MaxSession time.Duration
	// MaxAuthTries is the authentication attempts per connection (>= 1).
	MaxAuthTries int
	// AuthPerMinute is the attempts per minute per remote address; <= 0
	// disables the throttle.
	AuthPerMinute int
	// HandshakeTimeout closes a connection that has no session open for
	// this long, including one that never finishes signing in (default 30s).
	HandshakeTimeout time.Duration
	// ShutdownGrace bounds how long Shutdown waits for sessions to end
	// after telling them (default 5s).
	ShutdownGrace time.Duration
	// RecheckEvery re-reads a signed-in user this often, ending the session
	// if the key was removed or the account disabled (default 30s).
	RecheckEvery time.Duration
	// LightBackground makes light the default terminal background (see
	// NewRenderer); the default is dark.
	LightBackground bool
	// Log receives sign-ins, refusals and session ends; nil discards.
	Log *slog.Logger
}

// Server is a running (or ready) gpc SSH server.
type Server struct {
	cfg     Config
	ssh     *ssh.Server
	auth    *keys.Auth
	hub     *hub.Hub
	detach  func()
	ownsHub bool
	log     *slog.Logger
	// unwatchUsers stops the re-check of sessions when a user record changes.
	unwatchUsers func()

	mu       sync.Mutex
	live     map[*live]struct{}
	closing  bool
	wg       sync.WaitGroup
	listener net.Listener
}

// New checks the configuration and builds the server.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("ssh server: no store")
	case cfg.HostKey == nil:
		return nil, errors.New("ssh server: no host key")
	case cfg.MaxAuthTries < 1:
		return nil, fmt.Errorf("ssh server: max_auth_tries = %d: must be at least 1", cfg.MaxAuthTries)
	case cfg.IdleTimeout < 0 || cfg.MaxSession < 0:
		return nil, errors.New("ssh server: idle_timeout and max_session must not be negative")
	}
	if cfg.Factory == nil {
		cfg.Factory = Placeholder
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 30 * time.Second
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 5 * time.Second
	}
	if cfg.RecheckEvery <= 0 {
		cfg.RecheckEvery = 30 * time.Second
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := &Server{cfg: cfg, log: log, live: map[*live]struct{}{}, hub: cfg.Hub}
	srv.auth = &keys.Auth{Store: cfg.Store, Limiter: keys.NewLimiter(cfg.AuthPerMinute, nil), Log: log}
	if srv.hub == nil {
		srv.hub = hub.New()
		srv.detach = srv.hub.Attach(cfg.Store)
		srv.ownsHub = true
	}
	srv.unwatchUsers = cfg.Store.Subscribe(srv.usersChanged)
	opts := []ssh.Option{
		wish.WithAddress(cfg.Addr),
		wish.WithVersion("gpc"),
		func(s *ssh.Server) error { s.AddHostKey(cfg.HostKey); return nil },
		wish.WithPublicKeyAuth(srv.auth.PublicKeyHandler),
		wish.WithKeyboardInteractiveAuth(srv.auth.KeyboardInteractiveHandler),
		func(s *ssh.Server) error {
			s.ServerConfigCallback = func(ssh.Context) *gossh.ServerConfig {
				return &gossh.ServerConfig{MaxAuthTries: cfg.MaxAuthTries}
			}
			s.ConnCallback = srv.connCallback
			return nil
		},
		// Listed innermost first: recover wraps everything, then the
		// session registry, then identity, then the session itself.
		wish.WithMiddleware(srv.handleMiddleware, srv.auth.Middleware(), srv.trackMiddleware, srv.recoverMiddleware),
	}
	// No wish.WithMaxTimeout / WithIdleTimeout: the library's timeouts move
	// the connection's deadline on every packet (so output resets "idle"),
	// and each session's own watchdog already ends it, with a message, at
	// the idle and length limits; the connection guard closes connections
	// left without a session.
	s, err := wish.NewServer(opts...)
	if err != nil {
		return nil, fmt.Errorf("ssh server: %w", err)
	}
	srv.ssh = s
	return srv, nil
}

// Hub is the server's cross-session hub (to publish scheduler events).
func (srv *Server) Hub() *hub.Hub { return srv.hub }

// Listen opens the configured address; Serve then runs on it.
func (srv *Server) Listen() (net.Listener, error) {
	l, err := net.Listen("tcp", srv.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("ssh server: listen on %s: %w", srv.cfg.Addr, err)
	}
	return l, nil
}

// Serve accepts connections on l until Shutdown; it then returns nil.
func (srv *Server) Serve(l net.Listener) error {
	srv.mu.Lock()
	srv.listener = l
	srv.mu.Unlock()
	err := srv.ssh.Serve(l)
	if errors.Is(err, ssh.ErrServerClosed) {
		return nil
	}
	return err
}

// Addr is the listening address once Serve has started.
func (srv *Server) Addr() net.Addr {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.listener == nil {
		return nil
	}
	return srv.listener.Addr()
}

// Sessions is the number of sessions open now.
func (srv *Server) Sessions() int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.live)
}

// Shutdown stops accepting connections, tells every session the server is
// shutting down, waits for them to end (at most ShutdownGrace, or until ctx
// ends) and then closes what is left. Stop the scheduler and close the
// store after it returns.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	srv.closing = true
	lives := make([]*live, 0, len(srv.live))
	for l := range srv.live {
		lives = append(lives, l)
	}
	srv.mu.Unlock()

	sctx, cancel := context.WithTimeout(ctx, srv.cfg.ShutdownGrace)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- srv.ssh.Shutdown(sctx) }()
	// Screens are told and asked to quit now; a running command is given
	// the grace period to finish its output.
	for _, l := range lives {
		if l.screen {
			l.end("server shutting down", 1)
		}
	}
	done := make(chan struct{})
	go func() { srv.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-sctx.Done():
		err = fmt.Errorf("ssh server: %d sessions still open after %s; closing them", srv.Sessions(), srv.cfg.ShutdownGrace)
		for _, l := range lives {
			l.end("server shutting down", 1)
		}
	}
	// Whatever is left (connections without sessions, stuck clients).
	_ = srv.ssh.Close()
	<-stopped
	srv.unwatchUsers()
	if srv.ownsHub {
		srv.detach()
		srv.hub.Close()
	}
	return err
}

// connCallback runs for each new TCP connection, before the SSH handshake:
// an address over its attempt budget is turned away at once, and every
// connection gets a watchdog closing it when no session is open for
// HandshakeTimeout (a client that connects and never signs in, or signs
// in and never opens a session).
func (srv *Server) connCallback(ctx ssh.Context, conn net.Conn) net.Conn {
	if !srv.auth.AllowConn(conn.RemoteAddr()) {
		return nil
	}
	g := &guard{conn: conn, timeout: srv.cfg.HandshakeTimeout}
	g.arm()
	ctx.SetValue(guardKey{}, g)
	return &guardedConn{Conn: conn, g: g}
}

type guardKey struct{}

// guard closes its connection when no session has been open for timeout.
type guard struct {
	conn    net.Conn
	timeout time.Duration
	mu      sync.Mutex
	open    int
	timer   *time.Timer
	closed  bool
}

func (g *guard) arm() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	g.timer = time.AfterFunc(g.timeout, func() {
		g.mu.Lock()
		idle := g.open == 0
		g.mu.Unlock()
		if idle {
			g.conn.Close()
		}
	})
}

func (g *guard) sessionStarted() {
	g.mu.Lock()
	g.open++
	if g.timer != nil {
		g.timer.Stop()
	}
	g.mu.Unlock()
}

func (g *guard) sessionEnded() {
	g.mu.Lock()
	g.open--
	last := g.open == 0
	g.mu.Unlock()
	if last {
		g.arm()
	}
}

func (g *guard) stop() {
	g.mu.Lock()
	g.closed = true
	if g.timer != nil {
		g.timer.Stop()
	}
	g.mu.Unlock()
}

type guardedConn struct {
	net.Conn
	g *guard
}

func (c *guardedConn) Close() error {
	c.g.stop()
	return c.Conn.Close()
}

// recoverMiddleware keeps one session's panic from ending the server: the
// panic is logged with its stack, the person is told, and the session ends
// with status 1. (Panics inside a screen are caught by Bubble Tea first.)
func (srv *Server) recoverMiddleware(next ssh.Handler) ssh.Handler {
	return func(s ssh.Session) {
		defer func() {
			if r := recover(); r != nil {
				srv.log.Error("ssh: session panic", "remote", s.RemoteAddr().String(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				fmt.Fprintln(s.Stderr(), "\r\ngpc: something went wrong in this session, so it was closed. Other sessions are unaffected; please sign in again.")
				_ = s.Exit(1)
			}
		}()
		next(s)
	}
}

// trackMiddleware registers the session for shutdown and the connection
// watchdog, and refuses new sessions once shutdown began.
func (srv *Server) trackMiddleware(next ssh.Handler) ssh.Handler {
	return func(s ssh.Session) {
		srv.mu.Lock()
		closing := srv.closing
		if !closing {
			srv.wg.Add(1)
		}
		srv.mu.Unlock()
		if closing {
			fmt.Fprintln(s.Stderr(), "gpc: server shutting down; try again shortly.")
			_ = s.Exit(1)
			return
		}
		defer srv.wg.Done()
		if g, ok := s.Context().Value(guardKey{}).(*guard); ok {
			g.sessionStarted()
			defer g.sessionEnded()
		}
		next(s)
	}
}

func (srv *Server) handleMiddleware(next ssh.Handler) ssh.Handler {
	return func(s ssh.Session) {
		srv.handle(s)
		next(s)
	}
}

// handle runs one signed-in session: a screen program with a terminal, a
// command without one.
func (srv *Server) handle(s ssh.Session) {
	u, ok := keys.UserFrom(s.Context())
	if !ok {
		// Unreachable behind keys' middleware; refuse rather than serve.
		fmt.Fprintln(s.Stderr(), "gpc: not signed in")
		_ = s.Exit(1)
		return
	}
	ctx, cancel := context.WithCancel(s.Context())
	defer cancel()
	l := &live{srv: srv, s: s, ctx: ctx, cancel: cancel, fp: keys.FingerprintFrom(s.Context()), started: time.Now(),
		recheckNow: make(chan struct{}, 1)}
	l.user.Store(u)
	l.touch()
	_, _, isPty := s.Pty()
	// A terminal and no command: the screens. A command runs as a command,
	// with or without a terminal (ssh -t HOST timetable).
	l.screen = isPty && s.RawCommand() == ""
	srv.mu.Lock()
	srv.live[l] = struct{}{}
	srv.mu.Unlock()
	defer func() {
		srv.mu.Lock()
		delete(srv.live, l)
		srv.mu.Unlock()
	}()
	srv.log.Info("ssh: session", "user", u.Name, "remote", s.RemoteAddr().String(), "pty", isPty, "command", s.RawCommand())
	go l.watch()
	status := 0
	if l.screen {
		status = l.runProgram()
	} else {
		status = l.runCommand()
	}
	if reason, st := l.reason(); reason != "" {
		if l.screen {
			// After the program restored the screen, so it stays visible.
			fmt.Fprintf(s.Stderr(), "\r\ngpc: session closed: %s\r\n", reason)
		}
		status = st
	}
	srv.log.Info("ssh: session ended", "user", u.Name, "remote", s.RemoteAddr().String(), "after", time.Since(l.started).Round(time.Millisecond), "status", status)
	_ = s.Exit(status)
}

// live is one open session.
type live struct {
	srv     *Server
	s       ssh.Session
	ctx     context.Context
	cancel  context.CancelFunc
	fp      string
	started time.Time
	screen  bool // a screen program, not a command
	user    atomic.Pointer[domain.User]
	// lastInput is when the client last sent input (unix nanoseconds).
	lastInput atomic.Int64

	// recheckNow asks the watcher to re-read the user at once (a user
	// record changed: grants, keys, disabled).
	recheckNow chan struct{}

	mu      sync.Mutex
	program *tea.Program
	why     string
	whyCode int
}

func (l *live) touch() { l.lastInput.Store(time.Now().UnixNano()) }

func (l *live) reason() (string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.why, l.whyCode
}

// end closes the session for a reason the person is told. A screen program
// gets a Closing message and is asked to quit; if it has not within a
// moment it is killed. A command's channel is closed.
func (l *live) end(reason string, status int) {
	l.mu.Lock()
	if l.why != "" {
		l.mu.Unlock()
		return
	}
	l.why, l.whyCode = reason, status
	p := l.program
	l.mu.Unlock()
	l.srv.log.Info("ssh: ending session", "user", l.user.Load().Name, "reason", reason)
	if p == nil {
		if !l.screen {
			fmt.Fprintf(l.s.Stderr(), "gpc: session closed: %s\n", reason)
			_ = l.s.Exit(status)
		}
		// A program about to start sees why and does not; see runProgram.
		l.cancel()
		return
	}
	go func() {
		p.Send(session.Closing{Reason: reason})
		p.Quit()
		select {
		case <-l.ctx.Done():
		case <-time.After(time.Second):
			p.Kill()
		}
	}()
}

// watch enforces the idle timeout (from the last key press), the maximum
// session length, and the periodic re-check of the signed-in user. A
// screen is warned (session.Closing with the time left) a little before
// either limit: a tenth of it, at most a minute.
func (l *live) watch() {
	cfg := l.srv.cfg
	lastCheck := time.Now()
	warnedMax := false
	var warnedIdle int64 // the last key press the idle warning was about
	for {
		now := time.Now()
		next := lastCheck.Add(cfg.RecheckEvery)
		soonest := func(t time.Time) {
			if t.Before(next) {
				next = t
			}
		}
		if cfg.MaxSession > 0 {
			end := l.started.Add(cfg.MaxSession)
			if !now.Before(end) {
				l.end(fmt.Sprintf("the session reached its time limit of %s", cfg.MaxSession), 1)
				return
			}
			if warnAt := end.Add(-warnBefore(cfg.MaxSession)); !warnedMax && !now.Before(warnAt) {
				warnedMax = true
				l.notify(session.Closing{Reason: fmt.Sprintf("the session time limit is %s", cfg.MaxSession), In: end.Sub(now)})
			} else if !warnedMax {
				soonest(warnAt)
			}
			soonest(end)
		}
		if cfg.IdleTimeout > 0 && l.screen {
			li := l.lastInput.Load()
			end := time.Unix(0, li).Add(cfg.IdleTimeout)
			if !now.Before(end) {
				l.end(fmt.Sprintf("no key press for %s", cfg.IdleTimeout), 1)
				return
			}
			if warnAt := end.Add(-warnBefore(cfg.IdleTimeout)); warnedIdle != li && !now.Before(warnAt) {
				warnedIdle = li
				l.notify(session.Closing{Reason: "no key press for a while (press a key to stay)", In: end.Sub(now)})
			} else if warnedIdle != li {
				soonest(warnAt)
			}
			soonest(end)
		}
		if !now.Before(lastCheck.Add(cfg.RecheckEvery)) {
			lastCheck = now
			l.recheck()
			continue
		}
		t := time.NewTimer(next.Sub(now))
		select {
		case <-l.ctx.Done():
			t.Stop()
			return
		case <-l.recheckNow:
			t.Stop()
			l.recheck()
		case <-t.C:
		}
	}
}

// usersChanged runs after a commit: when a user record changed, every
// session re-reads its user at once, so a revoked grant, a removed key or a
// disabled account takes effect now rather than at the next periodic check.
func (srv *Server) usersChanged(chs []store.Change) {
	for _, c := range chs {
		if c.Kind != "user" {
			continue
		}
		srv.mu.Lock()
		for l := range srv.live {
			select {
			case l.recheckNow <- struct{}{}:
			default:
			}
		}
		srv.mu.Unlock()
		return
	}
}

func warnBefore(limit time.Duration) time.Duration {
	return min(limit/10, time.Minute)
}

// notify sends a message to the session's screen, if it has one, without
// waiting for the screen to take it.
func (l *live) notify(msg tea.Msg) {
	l.mu.Lock()
	p := l.program
	l.mu.Unlock()
	if p != nil {
		go p.Send(msg)
	}
}

// recheck re-reads the user behind the session's key.
func (l *live) recheck() {
	u, err := l.srv.auth.Lookup(l.fp)
	if errors.Is(err, keys.ErrRefused) {
		l.end(err.Error(), 1)
		return
	}
	if err != nil || u.Version == l.user.Load().Version {
		return
	}
	l.user.Store(u)
	l.notify(session.UserChanged{User: u})
}

// input counts the client's bytes as key presses for the idle timeout.
type input struct{ l *live }

func (in input) Read(b []byte) (int, error) {
	n, err := in.l.s.Read(b)
	if n > 0 {
		in.l.touch()
	}
	return n, err
}

// runProgram runs the session's screen program until it quits, the client
// leaves, or end() stops it; it returns the exit status.
func (l *live) runProgram() int {
	srv := l.srv
	pty, winch, _ := l.s.Pty()
	sc := session.Context{
		Store:          srv.cfg.Store,
		User:           l.user.Load(),
		KeyFingerprint: l.fp,
		Renderer:       NewRenderer(l.s, !srv.cfg.LightBackground),
		Clock:          srv.cfg.Clock,
		Width:          pty.Window.Width,
		Height:         pty.Window.Height,
		Scheduler:      srv.cfg.Scheduler,
		Remote:         l.s.RemoteAddr().String(),
		ReloadUser: func() (*domain.User, error) {
			u, err := srv.auth.Lookup(l.fp)
			if errors.Is(err, keys.ErrRefused) {
				return nil, fmt.Errorf("%w: %v", session.ErrSignedOut, err)
			}
			return u, err
		},
	}
	model := srv.cfg.Factory(sc)
	p := tea.NewProgram(model,
		tea.WithInput(input{l}),
		tea.WithOutput(l.s),
		tea.WithContext(l.ctx),
		tea.WithoutSignalHandler(),
		tea.WithAltScreen(),
		tea.WithEnvironment(l.s.Environ()),
	)
	l.mu.Lock()
	l.program = p
	ended := l.why != ""
	l.mu.Unlock()
	if ended {
		return 1
	}
	unregister := srv.hub.Register(l.ctx, p)
	defer unregister()
	go func() {
		for {
			select {
			case <-l.ctx.Done():
				return
			case w, ok := <-winch:
				if !ok {
					return
				}
				p.Send(tea.WindowSizeMsg{Width: w.Width, Height: w.Height})
			}
		}
	}()
	_, err := p.Run()
	p.Kill()
	l.cancel()
	switch {
	case err == nil:
		return 0
	case errors.Is(err, tea.ErrProgramPanic):
		srv.log.Error("ssh: screen panic", "user", l.user.Load().Name, "remote", l.s.RemoteAddr().String())
		fmt.Fprintln(l.s.Stderr(), "\r\ngpc: something went wrong in this session, so it was closed. Other sessions are unaffected; please sign in again.")
		return 1
	case errors.Is(err, tea.ErrProgramKilled):
		// Ended by the watchdog, shutdown or the client leaving.
		if r, _ := l.reason(); r != "" {
			return 1
		}
		return 0
	}
	srv.log.Error("ssh: screen error", "user", l.user.Load().Name, "err", err)
	return 1
}

// runCommand runs a session without a terminal as one command.
func (l *live) runCommand() int {
	env := commands.Env{
		Store:          l.srv.cfg.Store,
		User:           l.user.Load(),
		KeyFingerprint: l.fp,
		Now:            l.srv.cfg.Clock,
		Out:            l.s,
		Err:            l.s.Stderr(),
	}
	return commands.Run(env, l.s.RawCommand())
}
