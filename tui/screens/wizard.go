package screens

import (
	"errors"
	"fmt"
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"gpcollections/tui/styles"
)

// wizard asks a few questions in turn through the modal prompt. Each
// answer is checked as it is typed in: a bad one is refused at its own
// prompt, saying what is wrong, with the text kept and the answers already
// given intact (a typo must not end the whole form at its last prompt).
type wizard struct {
	tag     string
	steps   []wstep
	i       int
	answers map[string]string
}

type wstep struct {
	key, question, label, value string
	// check refuses a bad answer at its own prompt (nil: any answer). It
	// sees the answers already given, for answers that depend on them
	// (a date after another).
	check func(v string, answers map[string]string) error
	// more, when set, makes the steps that follow from this answer (the
	// date prompts after an achievement date, showing its defaults).
	more func(v string, answers map[string]string) []wstep
}

// plain adapts a check that needs no other answer.
func plain(f func(string) error) func(string, map[string]string) error {
	return func(v string, _ map[string]string) error { return f(v) }
}

// wizardPrompt is the prompt's length limit.
const wizardPrompt = 400

func (w *wizard) active() bool { return w.tag != "" }

// start opens the wizard at its first step.
func (w *wizard) start(m *modal, tag string, steps ...wstep) {
	*w = wizard{tag: tag, steps: steps, answers: map[string]string{}}
	s := steps[0]
	m.ask(s.key, s.question, s.label, s.value, wizardPrompt)
}

// update handles a key while the wizard's prompt is open. It returns the
// wizard's tag and answers once the last step is accepted (finished).
func (w *wizard) update(b *base, m *modal, k tea.KeyMsg) (tag string, answers map[string]string, finished bool) {
	key, value, ok, done := m.promptUpdate(k)
	if !done {
		return "", nil, false
	}
	if !ok {
		*w = wizard{}
		b.say(styles.Muted, "cancelled; nothing changed")
		return "", nil, false
	}
	s := w.steps[w.i]
	v := strings.TrimSpace(value)
	if s.check != nil {
		if err := s.check(v, w.answers); err != nil {
			m.ask(s.key, s.question, s.label, value, wizardPrompt)
			b.say(styles.Bad, fmt.Sprintf("x %s %v", strings.TrimSpace(s.label), err))
			return "", nil, false
		}
	}
	b.clear()
	w.answers[key] = v
	if s.more != nil {
		rest := append([]wstep(nil), w.steps[w.i+1:]...)
		w.steps = append(append(w.steps[:w.i+1:w.i+1], s.more(v, w.answers)...), rest...)
	}
	w.i++
	if w.i < len(w.steps) {
		s := w.steps[w.i]
		m.ask(s.key, s.question, s.label, s.value, wizardPrompt)
		return "", nil, false
	}
	tag, answers = w.tag, w.answers
	*w = wizard{}
	return tag, answers, true
}

// needReason refuses an empty reason, naming what it is for.
func needReason(what string) func(string, map[string]string) error {
	return func(v string, _ map[string]string) error {
		if strings.TrimSpace(v) == "" {
			return errors.New(what + " needs a reason")
		}
		return nil
	}
}
