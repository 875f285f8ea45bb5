package sshserver

import (
	"strconv"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/ssh"
	"github.com/muesli/termenv"
)

// NewRenderer builds the lipgloss renderer for a session, as
// wish/bubbletea.MakeRenderer does (colour profile from the client's TERM,
// COLORTERM and NO_COLOR), except that it never asks the terminal for its
// background colour. wish v1.4.7 sends that query and waits up to a second
// or two for the answer; a client that never answers (a script, some
// terminals) then sees no first frame for that long, and the key it types
// meanwhile is eaten by the query reader. The background is decided from
// what the client sent instead: GPC_BACKGROUND=light|dark (ssh -o
// SetEnv=GPC_BACKGROUND=light), else COLORFGBG, else the server's default.
func NewRenderer(s ssh.Session, darkDefault bool) *lipgloss.Renderer {
	env := environ(s.Environ())
	dark := Background(env, darkDefault)
	pty, _, ok := s.Pty()
	var r *lipgloss.Renderer
	if !ok || pty.Term == "" || pty.Term == "dumb" {
		r = lipgloss.NewRenderer(s, termenv.WithProfile(termenv.Ascii))
	} else {
		// WithUnsafe: the session is not a file, but it is a terminal.
		r = lipgloss.NewRenderer(s, termenv.WithEnvironment(env), termenv.WithUnsafe())
	}
	r.SetHasDarkBackground(dark)
	return r
}

// Background decides from an environment ("K=V" entries) whether the
// terminal background is dark, without asking the terminal.
func Background(vars []string, darkDefault bool) bool {
	env := environ(vars)
	switch strings.ToLower(env.Getenv("GPC_BACKGROUND")) {
	case "light":
		return false
	case "dark":
		return true
	}
	// COLORFGBG is "fg;bg" (sometimes "fg;default;bg"), set by rxvt,
	// Konsole and others: bg 0-6 and 8 are dark colours, 7 and 9-15 light.
	if v := env.Getenv("COLORFGBG"); v != "" {
		parts := strings.Split(v, ";")
		if bg, err := strconv.Atoi(parts[len(parts)-1]); err == nil && bg >= 0 && bg <= 15 {
			return bg <= 6 || bg == 8
		}
	}
	return darkDefault
}

// environ is a session's environment for termenv.
type environ []string

func (e environ) Environ() []string { return e }

func (e environ) Getenv(k string) string {
	// The last assignment wins, as in a shell.
	for i := len(e) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(e[i], k+"="); ok {
			return v
		}
	}
	return ""
}
