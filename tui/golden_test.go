package tui

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"
)

// The golden size: wider than the minimum, as a usual terminal.
const goldenW, goldenH = 100, 32

// run starts a user's session under teatest, wrapped so a test can see
// the model's view between messages.
func (w *world) run(t *testing.T, name string, sch bool) *teatest.TestModel {
	t.Helper()
	ctx := w.context(t, name, nil)
	if sch {
		ctx.Scheduler = &fakeScheduler{st: w.st}
	}
	return teatest.NewTestModel(t, probed{New(ctx)}, teatest.WithInitialTermSize(goldenW, goldenH))
}

// probe asks the running model for its view. It travels the program's
// message queue, so the answer reflects every message sent before it.
type probe struct{ reply chan string }

// probed answers probes and passes everything else to the model.
type probed struct{ tea.Model }

func (p probed) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if pr, ok := msg.(probe); ok {
		pr.reply <- p.Model.View()
		return p, nil
	}
	m, cmd := p.Model.Update(msg)
	return probed{m}, cmd
}

// waitView polls the model's view until it holds every text, and returns
// it. Actions finish off the update loop, so a test waits for what they
// show rather than for a fixed time.
func waitView(t *testing.T, tm *teatest.TestModel, texts ...string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		ch := make(chan string, 1)
		tm.Send(probe{ch})
		select {
		case last = <-ch:
		case <-time.After(time.Second):
			continue
		}
		ok := true
		// Text the status line wraps is found with its lines joined.
		flat := strings.Join(strings.Fields(last), " ")
		for _, s := range texts {
			ok = ok && (strings.Contains(last, s) || strings.Contains(flat, s))
		}
		if ok {
			return last
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the screen never showed %q; last view:\n%s", texts, last)
	return ""
}

// final quits and returns the last frame as the model renders it.
func final(t *testing.T, tm *teatest.TestModel) string {
	t.Helper()
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	return tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).View()
}

func press(tm *teatest.TestModel, ks ...string) {
	for _, k := range ks {
		switch k {
		case "enter":
			tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
		case "esc":
			tm.Send(tea.KeyMsg{Type: tea.KeyEsc})
		case "tab":
			tm.Send(tea.KeyMsg{Type: tea.KeyTab})
		case "down":
			tm.Send(tea.KeyMsg{Type: tea.KeyDown})
		case "up":
			tm.Send(tea.KeyMsg{Type: tea.KeyUp})
		case "space":
			tm.Send(tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}})
		default:
			tm.Type(k)
		}
	}
}

// setup is what each screen's golden does after opening it: the key
// presses and the text that shows the screen is ready.
var setup = map[string]struct {
	keys []string
	wait string
}{
	"home":        {nil, "Your tasks"},
	"timetable":   {nil, "Timetable"},
	"services":    {[]string{"right", "right", "right"}, "QOF2526"},
	"achievement": {[]string{"c", "QOF", "enter"}, "Achievement review"},
	"manual":      {nil, "Manual entry"},
	"declare":     {[]string{"c", "QOF", "enter"}, "Declaration"},
	"queue":       {nil, "Approval queue"},
	"monitor":     {nil, "Extract monitor"},
	"audit":       {nil, "Audit log"},
	"admin":       {nil, "Administration"},
}

// TestGoldenScreens renders every screen each role bundle may use, at a
// fixed size, in an Ascii terminal, at a fixed time. go test ./tui -update
// rewrites the golden files under testdata.
func TestGoldenScreens(t *testing.T) {
	for _, bu := range bundleUsers {
		t.Run(bu.bundle, func(t *testing.T) {
			w := newWorld(t)
			tabs := newModel(w.context(t, bu.user, &fakeScheduler{st: w.st})).tabs
			for i, s := range tabs {
				name := s.Name()
				t.Run(name, func(t *testing.T) {
					w := newWorld(t)
					tm := w.run(t, bu.user, bu.user == "admin")
					waitView(t, tm, "GP Collections")
					press(tm, string(rune('0'+(i+1)%10)))
					st := setup[name]
					for _, k := range st.keys {
						if k == "right" {
							tm.Send(tea.KeyMsg{Type: tea.KeyRight})
							continue
						}
						press(tm, k)
					}
					waitView(t, tm, st.wait)
					if name == "home" {
						// The visit is recorded off the update loop; wait for it.
						if bu.user == "rita" {
							waitView(t, tm, "this is your first visit")
						} else {
							waitView(t, tm, "Since your last visit")
						}
					}
					out := final(t, tm)
					if strings.Contains(out, "\x1b[") {
						t.Errorf("an Ascii terminal got escape sequences:\n%q", out)
					}
					teatest.RequireEqualOutput(t, []byte(out))
				})
			}
		})
	}
}
