// Package styles builds every style the screens use from one session's
// lipgloss renderer, so each SSH session gets its own terminal's colours and
// nothing touches the process-wide default renderer. Colour only ever adds
// to meaning: every status is also carried by a word or a symbol (see Mark),
// so an Ascii or NO_COLOR terminal loses nothing.
package styles

import (
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/lipgloss"
)

// Tone is what a status means, independent of how it is shown.
type Tone int

const (
	Plain Tone = iota
	OK         // done, in time, succeeded
	Warn       // needs attention soon
	Bad        // failed, overdue, refused
	Info       // in progress, informational
	Muted      // not applicable, inactive
)

// symbols mark a tone in text; they are what an Ascii terminal sees.
var symbols = map[Tone]string{OK: "+", Warn: "!", Bad: "x", Info: "~", Muted: "-"}

// Symbol is the text marker of a tone ("" for Plain).
func Symbol(t Tone) string { return symbols[t] }

// Styles is one session's style set.
type Styles struct {
	r *lipgloss.Renderer

	Title     lipgloss.Style
	Heading   lipgloss.Style
	TabActive lipgloss.Style
	TabIdle   lipgloss.Style
	Faint     lipgloss.Style
	Selected  lipgloss.Style
	Bold      lipgloss.Style
	Rule      lipgloss.Style
	tones     map[Tone]lipgloss.Style
}

// New builds the styles from a session's renderer. Colours are adaptive:
// the renderer knows (without asking the terminal) whether its background
// is dark.
func New(r *lipgloss.Renderer) *Styles {
	if r == nil {
		r = lipgloss.NewRenderer(nil)
	}
	c := func(light, dark string) lipgloss.AdaptiveColor {
		return lipgloss.AdaptiveColor{Light: light, Dark: dark}
	}
	s := &Styles{r: r}
	s.Title = r.NewStyle().Bold(true).Foreground(c("#1F4E99", "#8AB4F8"))
	s.Heading = r.NewStyle().Bold(true)
	s.TabActive = r.NewStyle().Bold(true).Reverse(true)
	s.TabIdle = r.NewStyle().Foreground(c("#555555", "#AAAAAA"))
	s.Faint = r.NewStyle().Foreground(c("#777777", "#888888"))
	s.Selected = r.NewStyle().Bold(true).Foreground(c("#000000", "#FFFFFF")).Background(c("#DDE6F5", "#2B3A55"))
	s.Bold = r.NewStyle().Bold(true)
	s.Rule = r.NewStyle().Foreground(c("#BBBBBB", "#444444"))
	s.tones = map[Tone]lipgloss.Style{
		Plain: r.NewStyle(),
		OK:    r.NewStyle().Foreground(c("#1A7F37", "#57D16B")),
		Warn:  r.NewStyle().Foreground(c("#9A6700", "#E3B341")),
		Bad:   r.NewStyle().Bold(true).Foreground(c("#CF222E", "#FF7B72")),
		Info:  r.NewStyle().Foreground(c("#0969DA", "#79C0FF")),
		Muted: r.NewStyle().Foreground(c("#777777", "#888888")),
	}
	return s
}

// Renderer is the session's renderer.
func (s *Styles) Renderer() *lipgloss.Renderer { return s.r }

// Tone colours text by tone, adding no marker (use where the words already
// say it all).
func (s *Styles) Tone(t Tone, text string) string { return s.tones[t].Render(text) }

// Mark renders text with its tone's symbol in front ("! 3 days left"), so
// the meaning survives a terminal without colour.
func (s *Styles) Mark(t Tone, text string) string {
	if sym := symbols[t]; sym != "" {
		text = sym + " " + text
	}
	return s.tones[t].Render(text)
}

// Help is a bubbles help model whose styles come from this renderer, with
// ASCII separators.
func (s *Styles) Help() help.Model {
	h := help.New()
	key := s.r.NewStyle().Bold(true)
	desc := s.Faint
	sep := s.Rule
	h.Styles = help.Styles{
		Ellipsis: sep, ShortKey: key, ShortDesc: desc, ShortSeparator: sep,
		FullKey: key, FullDesc: desc, FullSeparator: sep,
	}
	h.ShortSeparator = " | "
	h.FullSeparator = "   "
	h.Ellipsis = "..."
	return h
}
