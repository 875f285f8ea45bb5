package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"gpcollections/domain"
	"gpcollections/store"
	"gpcollections/store/ops"
	"gpcollections/tui/hub"
	tuisession "gpcollections/tui/session"
	"gpcollections/tui/sshserver"
)

func init() { register(tuiCmd) }

func tuiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "tui",
		Short: "Use the terminal interface here, on a data directory no server is using",
		Long: `Runs the same interface the SSH server gives, in this terminal, as the user
named by --as. It needs the data file to itself: while gpc serve runs on the
directory, connect to the server with ssh instead (this command says how).
No extraction scheduler runs here; extractions start when the server runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			st, err := openStore(c)
			if err != nil {
				return inUse(c.Data, err)
			}
			defer st.Close()
			actor, err := ops.Actor(st, c.As)
			if err != nil {
				return fmt.Errorf("acting user: %w (choose one with --as)", err)
			}
			if !term.IsTerminal(os.Stdout.Fd()) || !term.IsTerminal(os.Stdin.Fd()) {
				return errors.New("gpc tui needs a terminal; for scripts use the gpc commands, or ssh to the server with a command (ssh HOST timetable --json)")
			}
			return runLocal(cmd, st, actor, c.clock.Now)
		},
	}
}

// inUse turns "the data file is locked" into what to do about it.
func inUse(dir string, err error) error {
	if !errors.Is(err, store.ErrInUse) {
		return err
	}
	if addr, pid, ok := runningServer(dir); ok {
		where := addr
		if a, rerr := net.ResolveTCPAddr("tcp", addr); rerr == nil {
			where = fmt.Sprintf("ssh -p %s %s", port(a), host(a))
		}
		return fmt.Errorf("%w\na gpc server (pid %d) is serving %s on %s; use it instead: %s\n(%s help lists what runs there without a terminal: timetable changes, payment runs, exports, backups)", err, pid, dir, addr, where, where)
	}
	return fmt.Errorf("%w\nif that is gpc serve, connect to it with ssh; otherwise wait for the other command to finish", err)
}

// runLocal runs the interface in this terminal, with live updates from
// this process's own writes.
func runLocal(cmd *cobra.Command, st *store.Store, actor *domain.User, now func() time.Time) error {
	h := hub.New()
	detach := h.Attach(st)
	defer h.Close()
	defer detach()
	r := lipgloss.NewRenderer(os.Stdout)
	// Decided without a terminal query, as over SSH (see sshserver.NewRenderer).
	r.SetHasDarkBackground(sshserver.Background(os.Environ(), true))
	w, hgt, _ := term.GetSize(os.Stdout.Fd())
	name := actor.Name
	sc := tuisession.Context{
		Store:    st,
		User:     actor,
		Renderer: r,
		Clock:    now,
		Width:    w,
		Height:   hgt,
		Remote:   "local terminal",
		ReloadUser: func() (*domain.User, error) {
			u, err := ops.Actor(st, name)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", tuisession.ErrSignedOut, err)
			}
			return u, nil
		},
	}
	factory := screens
	if factory == nil {
		factory = sshserver.Placeholder
	}
	p := tea.NewProgram(factory(sc), tea.WithAltScreen(), tea.WithContext(cmd.Context()))
	unregister := h.Register(cmd.Context(), p)
	defer unregister()
	_, err := p.Run()
	switch {
	case errors.Is(err, tea.ErrProgramPanic):
		return fmt.Errorf("the interface stopped after an internal error: %w", err)
	case err != nil && !errors.Is(err, tea.ErrProgramKilled):
		return fmt.Errorf("the interface stopped: %w", err)
	}
	return nil
}
