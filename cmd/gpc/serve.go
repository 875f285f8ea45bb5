package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	gossh "golang.org/x/crypto/ssh"

	"gpcollections/keys"
	"gpcollections/store/scheduler"
	tuisession "gpcollections/tui/session"
	"gpcollections/tui/sshserver"
)

func init() { register(serveCmd) }

// screens makes each session's root screen; the screens' wiring sets it.
// Left nil, sessions get sshserver.Placeholder.
var screens tuisession.Factory

// serveFile records, while a server runs, where it listens, so that
// `gpc tui` can tell someone where to connect instead.
const serveFile = "gpc.serve"

// shutdownWait bounds the whole shutdown: sessions told and closed (the
// server's own grace), then the scheduler stopped.
const shutdownWait = 15 * time.Second

func serveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the SSH server and the extraction scheduler",
		Long: `Serves gpc over SSH on --listen and runs the extraction scheduler in the same
process. People sign in with an SSH key registered to their user (gpc user
key-add); a terminal session gets the interface for their roles, and a command
(ssh HOST timetable --json) runs without one. SIGINT or SIGTERM shuts down
gracefully: sessions are told, running extractions are put back on the queue,
and the data file is closed last.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			return serve(cmd.Context(), c, log, func(addr net.Addr, hostKey gossh.PublicKey) {
				fmt.Fprintf(cmd.OutOrStdout(), "gpc: serving %s on %s (host key %s)\n", c.Data, addr, gossh.FingerprintSHA256(hostKey))
				fmt.Fprintf(cmd.OutOrStdout(), "gpc: connect with ssh -p %s %s\n", port(addr), host(addr))
			})
		},
	}
	addConfigFlags(cmd, "listen", "idle_timeout", "max_session", "max_auth_tries", "auth_per_minute", "workers", "retries", "retry_backoff", "sources_cache", "clock", "strict")
	return cmd
}

// serve runs until ctx ends or SIGINT/SIGTERM arrives, then shuts down in
// order: SSH sessions, the scheduler, and the store last.
func serve(ctx context.Context, c Config, log *slog.Logger, ready func(net.Addr, gossh.PublicKey)) error {
	st, err := openStore(c)
	if err != nil {
		return err
	}
	// The store is closed last, after everything that uses it has stopped.
	defer st.Close()
	hostKey, err := keys.LoadOrCreateHostKey(c.Data)
	if err != nil {
		return err
	}
	sched := scheduler.New(st, schedulerConfig(c))
	srv, err := sshserver.New(sshserver.Config{
		Addr:          c.Listen,
		HostKey:       hostKey,
		Store:         st,
		Factory:       screens,
		Scheduler:     sched,
		Clock:         c.clock.Now,
		IdleTimeout:   c.IdleTimeout,
		MaxSession:    c.MaxSession,
		MaxAuthTries:  c.MaxAuthTries,
		AuthPerMinute: c.AuthPerMin,
		Log:           log,
	})
	if err != nil {
		return err
	}
	l, err := srv.Listen()
	if err != nil {
		return err
	}
	if err := sched.Start(); err != nil {
		l.Close()
		return fmt.Errorf("scheduler: %w", err)
	}
	events, unsubscribe := sched.Subscribe()
	relayed := make(chan struct{})
	go func() { srv.Hub().Relay(events); close(relayed) }()

	marker := filepath.Join(c.Data, serveFile)
	_ = os.WriteFile(marker, []byte(fmt.Sprintf("%s\n%d\n", l.Addr(), os.Getpid())), 0o600)
	defer os.Remove(marker)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	log.Info("gpc: serving", "data", c.Data, "listen", l.Addr().String())
	if ready != nil {
		ready(l.Addr(), hostKey.PublicKey())
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("gpc: shutting down")
	case sig := <-sigs:
		log.Info("gpc: shutting down", "signal", sig.String())
	case serveErr = <-served:
		log.Error("gpc: the SSH server stopped", "err", serveErr)
	}
	// A second signal while shutting down ends the process at once; the
	// data file is safe (every commit is atomic), only the grace is lost.
	go func() {
		if sig, ok := <-sigs; ok {
			log.Warn("gpc: second signal, exiting now", "signal", sig.String())
			os.Exit(1)
		}
	}()

	sctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("gpc: sessions", "err", err)
	}
	if serveErr == nil {
		serveErr = <-served
	}
	// Running extractions stop at their next step and go back on the
	// queue; nothing half-done is stored. The next start resumes them.
	sched.Stop()
	unsubscribe()
	<-relayed
	log.Info("gpc: stopped")
	return serveErr
}

func schedulerConfig(c Config) scheduler.Config {
	return scheduler.Config{Workers: c.Workers, MaxAttempts: c.Retries, Backoff: c.RetryBackoff, CacheDir: c.SourcesCache, Clock: c.clock, Strict: c.Strict}
}

func port(a net.Addr) string {
	_, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return p
}

// host is the address to give people for a listening address.
func host(a net.Addr) string {
	h, _, err := net.SplitHostPort(a.String())
	if err != nil || h == "" || h == "0.0.0.0" || h == "::" {
		return "localhost"
	}
	if strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return h
}

// runningServer reads the serve file of a data directory: where a server
// holding it listens, if one does.
func runningServer(dir string) (addr string, pid int, ok bool) {
	b, err := os.ReadFile(filepath.Join(dir, serveFile))
	if err != nil {
		return "", 0, false
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		return "", 0, false
	}
	pid, err = strconv.Atoi(lines[1])
	if err != nil {
		return "", 0, false
	}
	return lines[0], pid, true
}
