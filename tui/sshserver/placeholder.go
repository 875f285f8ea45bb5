package sshserver

import (
	"fmt"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"gpcollections/domain"
	"gpcollections/store"
	"gpcollections/tui/session"
)

// Placeholder is the screen served until the real screens (package tui) are
// wired in through Config.Factory: it shows who is signed in and how many
// collections the timetable holds, and follows live changes. TEMPORARY: the
// screens replace it; it stays only as the server's fallback and for the
// server's own tests and benchmark.
func Placeholder(ctx session.Context) tea.Model {
	m := &placeholder{ctx: ctx, user: ctx.User, title: ctx.Renderer.NewStyle().Bold(true)}
	m.reload()
	return m
}

type placeholder struct {
	ctx     session.Context
	user    *domain.User
	title   lipgloss.Style
	count   int
	err     error
	help    bool
	closing string
}

func (m *placeholder) reload() {
	m.count, m.err = 0, nil
	if err := domain.Authorize(m.user, domain.ActViewTimetable, domain.TargetNational()); err != nil {
		m.err = err
		return
	}
	m.err = m.ctx.Store.View(func(tx *store.Tx) error {
		cs, err := tx.Collections("")
		m.count = len(cs)
		return err
	})
}

func (m *placeholder) Init() tea.Cmd { return nil }

func (m *placeholder) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyMsg:
		m.closing = "" // a warning about idling is answered by any key
		switch msg.String() {
		case "q", "ctrl+c":
			return m, tea.Quit
		case "?":
			m.help = !m.help
		}
	case session.Invalidate:
		if msg.Touches("collection") {
			m.reload()
		}
	case session.UserChanged:
		m.user = msg.User
		m.reload()
	case session.Closing:
		m.closing = msg.String()
	}
	return m, nil
}

func (m *placeholder) View() string {
	var b strings.Builder
	b.WriteString(m.title.Render("gpc — GP Collections"))
	fmt.Fprintf(&b, "\nsigned in as %s (%s)\n", m.user.Name, m.user.FullName)
	if m.err != nil {
		fmt.Fprintf(&b, "timetable: %v\n", m.err)
	} else {
		fmt.Fprintf(&b, "%d collections on the timetable\n", m.count)
	}
	if m.help {
		b.WriteString("the full screens are not installed in this build; use the commands:\n  ssh HOST help\n")
	}
	if m.closing != "" {
		b.WriteString("\n" + m.closing + "\n")
	}
	b.WriteString("\n? help  q quit\n")
	return b.String()
}
