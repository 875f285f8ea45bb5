package sshbench

import (
	"fmt"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/ssh"
	"github.com/charmbracelet/wish"
	gossh "golang.org/x/crypto/ssh"
)

// BareServer is the baseline: a Wish server that admits any key and runs a
// one-line Bubble Tea model per session, wired as wish's own bubbletea
// middleware wires it (input and output on the session, window sizes
// forwarded), with none of gpc's work: no store, no identity lookup, no
// limits, no hub.
func BareServer(addr string, hostKey gossh.Signer) (*ssh.Server, error) {
	return wish.NewServer(
		wish.WithAddress(addr),
		func(s *ssh.Server) error { s.AddHostKey(hostKey); return nil },
		wish.WithPublicKeyAuth(func(ssh.Context, ssh.PublicKey) bool { return true }),
		wish.WithMiddleware(func(next ssh.Handler) ssh.Handler {
			return func(s ssh.Session) {
				_, winch, ok := s.Pty()
				if !ok {
					wish.Fatalln(s, "no terminal")
					return
				}
				p := tea.NewProgram(&counter{}, tea.WithInput(s), tea.WithOutput(s))
				done := make(chan struct{})
				go func() {
					for {
						select {
						case <-done:
							return
						case <-s.Context().Done():
							p.Quit()
							return
						case w, ok := <-winch:
							if !ok {
								return
							}
							p.Send(tea.WindowSizeMsg{Width: w.Width, Height: w.Height})
						}
					}
				}()
				_, _ = p.Run()
				close(done)
				p.Kill()
				next(s)
			}
		}),
	)
}

// counter is the one-line model: it counts key presses.
type counter struct{ n int }

func (c *counter) Init() tea.Cmd { return nil }

func (c *counter) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if k, ok := msg.(tea.KeyMsg); ok {
		if k.String() == "ctrl+c" {
			return c, tea.Quit
		}
		c.n++
	}
	return c, nil
}

func (c *counter) View() string { return fmt.Sprintf("key presses: %d\n", c.n) }
