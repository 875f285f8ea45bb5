package screens

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"

	"gpcollections/domain"
	"gpcollections/domain/manual"
	"gpcollections/store"
	"gpcollections/store/ops"
	"gpcollections/tui/session"
	"gpcollections/tui/styles"
	"gpcollections/tui/widgets"
)

// Manual is the manual entry form: the fields a service marks manual (and
// every field while a practice's extract has failed), validated as they are
// typed with the same rules the save applies (domain/manual), saved as a
// draft or submitted.
type Manual struct {
	base
	modal
	chooser
	form      *ops.ManualForm
	svc       *domain.ServiceDef
	extracted map[[2]string]int64
	edits     map[domain.FieldKey]string
	errs      map[domain.FieldKey]string
	editing   bool
	input     widgets.Input
	table     widgets.Table
	err       error
	// formOf is the collection and practice the edits belong to.
	formOf string
}

// NewManual makes the manual entry screen.
func NewManual(env *Env) *Manual {
	return &Manual{base: newBase(env), edits: map[domain.FieldKey]string{}, table: widgets.Table{
		Empty: "nothing to enter by hand for this collection",
		// Sized so every column, Source included, fits 80 columns with the
		// Check column at its minimum.
		Cols: []widgets.Column{{Title: "Indicator", Width: 9}, {Title: "Field", Width: 11}, {Title: "Source", Width: 9},
			{Title: "Extract", Width: 7, Right: true}, {Title: "Saved", Width: 7, Right: true}, {Title: "New", Width: 7, Right: true},
			{Title: "Check"}},
	}}
}

func (m *Manual) Name() string    { return "manual" }
func (m *Manual) Title() string   { return "Manual entry" }
func (m *Manual) Short() string   { return "Manual" }
func (m *Manual) Available() bool { return m.env.AnyPractice(domain.ActEnterManual) }
func (m *Manual) Capturing() bool { return m.editing || m.open() }

func (m *Manual) Wants(inv session.Invalidate) bool {
	return inv.Touches("manual", "result", "job", "collection", "participation", "service") && inv.TouchesPractice(m.practice)
}

// Focus opens the form of a collection and practice.
func (m *Manual) Focus(coll uint64, practice string) {
	m.practice, m.coll = practice, coll
	m.Reload()
}

// manualColls lists the collections with something a practice may enter
// by hand: services with manual fields, and any collection whose extract
// failed for the practice or whose retry has no figures yet. Only services the practice takes part in count.
func manualColls(env *Env, practice string) ([]*domain.Collection, error) {
	var out []*domain.Collection
	svcs, err := env.Services()
	if err != nil {
		return nil, err
	}
	err = env.Store().View(func(tx *store.Tx) error {
		hasManual := map[string]bool{}
		for _, s := range svcs {
			hasManual[s.ID] = len(s.ManualFields()) > 0
		}
		part := map[string]bool{}
		cs, err := tx.Collections("")
		if err != nil {
			return err
		}
		for _, c := range cs {
			p, seen := part[c.Service]
			if !seen {
				if p, err = ops.Participating(tx, c.Service, practice); err != nil {
					return err
				}
				part[c.Service] = p
			}
			if !p || c.Status == domain.CollCancelled {
				continue
			}
			auto, err := ops.AutomaticEntry(tx, c, practice)
			if err != nil {
				return err
			}
			if hasManual[c.Service] || auto != ops.AutoNone {
				out = append(out, c)
			}
		}
		return nil
	})
	return out, err
}

func (m *Manual) Reload() {
	m.form, m.err = nil, nil
	if m.err = m.refresh(m.env, domain.ActEnterManual, manualColls); m.err != nil {
		return
	}
	c := m.collection()
	if c == nil {
		m.fill()
		return
	}
	of := fmt.Sprintf("%d/%s", c.ID, m.practice)
	if of != m.formOf {
		m.edits, m.errs, m.formOf = map[domain.FieldKey]string{}, nil, of
	}
	if m.form, m.err = ops.ManualFormFor(m.env.Store(), m.env.User, c.ID, m.practice); m.err != nil {
		m.fill()
		return
	}
	m.dropOffForm()
	// The form was allowed: read what validation needs alongside it.
	m.extracted = map[[2]string]int64{}
	if m.svc, m.err = m.env.Service(c.Service); m.err != nil {
		return
	}
	m.err = m.env.Store().View(func(tx *store.Tx) error {
		r, err := tx.Result(c.ID, m.practice)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, v := range r.Values {
			m.extracted[[2]string{v.Indicator, v.Field}] = v.Value
		}
		return nil
	})
	m.validate()
	m.fill()
}

// dropOffForm drops typed values for fields that left the form (a retry
// of the extract succeeded, so the extract is their source again) and says
// which, so nothing typed disappears unannounced.
func (m *Manual) dropOffForm() {
	on := map[domain.FieldKey]bool{}
	for _, f := range m.form.Fields {
		on[domain.FieldKey{Indicator: f.Indicator, Field: f.Field}] = true
	}
	var gone []string
	for k, raw := range m.edits {
		if !on[k] {
			gone = append(gone, fmt.Sprintf("%s %s %q", k.Indicator, k.Field, raw))
			delete(m.edits, k)
		}
	}
	if len(gone) > 0 {
		sort.Strings(gone)
		m.say(styles.Warn, fmt.Sprintf("the extract now gives these fields, so the values typed for them were not kept: %s", strings.Join(gone, ", ")))
	}
}

// validate checks the form as typed: each new value must parse, and the
// whole set (extracted values, saved entry, new values) must hold
// together, exactly as the save will check it.
func (m *Manual) validate() {
	m.errs = map[domain.FieldKey]string{}
	if m.form == nil || m.svc == nil {
		return
	}
	set := map[[2]string]int64{}
	for k, v := range m.extracted {
		set[k] = v
	}
	onForm := map[domain.FieldKey]bool{}
	for _, f := range m.form.Fields {
		k := domain.FieldKey{Indicator: f.Indicator, Field: f.Field}
		onForm[k] = true
		if f.Entered != nil {
			set[[2]string{f.Indicator, f.Field}] = *f.Entered
		}
	}
	for k, raw := range m.edits {
		if strings.TrimSpace(raw) == "" {
			delete(set, [2]string{k.Indicator, k.Field})
			continue
		}
		v, err := manual.ParseValue(k.Indicator, k.Field, raw)
		if err != nil {
			m.errs[k] = fieldMsg(err)
			continue
		}
		set[[2]string{k.Indicator, k.Field}] = v
	}
	for _, fe := range manual.Validate(m.svc, set) {
		k := domain.FieldKey{Indicator: fe.Indicator, Field: fe.Field}
		if _, done := m.errs[k]; !done && onForm[k] {
			m.errs[k] = fe.Msg
		}
	}
}

func fieldMsg(err error) string {
	var fe manual.FieldError
	if errors.As(err, &fe) {
		return fe.Msg
	}
	return err.Error()
}

func optInt(p *int64) string {
	if p == nil {
		return "-"
	}
	return widgets.Int(*p)
}

func (m *Manual) fill() {
	if m.form == nil {
		m.table.SetRows(nil)
		return
	}
	st := m.env.St
	rows := make([][]string, 0, len(m.form.Fields))
	for _, f := range m.form.Fields {
		k := domain.FieldKey{Indicator: f.Indicator, Field: f.Field}
		src := sourceWord(st, f.Automatic, m.form.Auto)
		nv := ""
		if raw, ok := m.edits[k]; ok {
			nv = raw
			if strings.TrimSpace(raw) == "" {
				nv = "(clear)"
			}
		}
		check := ""
		switch e, bad := m.errs[k]; {
		case bad:
			check = st.Mark(styles.Bad, e)
		case nv != "":
			check = st.Mark(styles.OK, "ok, unsaved")
		case f.Entered == nil && !f.Automatic:
			check = st.Mark(styles.Warn, "required") // to submit; short for 80 columns
		case f.Entered != nil:
			check = st.Mark(styles.OK, "ok")
		}
		rows = append(rows, []string{f.Indicator, f.Field, src, optInt(f.Extracted), optInt(f.Entered), nv, check})
	}
	m.table.SetRows(rows)
}

// sourceWord says where a field's value comes from, short enough for its
// column: a manual field, or an extracted field on the form because the
// extract failed or its retry has no figures yet (the note above the table
// says which in full).
func sourceWord(st *styles.Styles, automatic bool, auto ops.AutoEntry) string {
	switch {
	case !automatic:
		return st.Mark(styles.Warn, "manual")
	case auto == ops.AutoFailed:
		return st.Mark(styles.Bad, "failed")
	}
	return st.Mark(styles.Info, "retry")
}

// Unsaved names the values typed on the form and not saved yet.
func (m *Manual) Unsaved() string {
	if len(m.edits) == 0 {
		return ""
	}
	what := widgets.Plural(len(m.edits), "value") + " typed and not saved"
	if m.form != nil {
		what += " for " + m.form.Collection.Label() + ", " + m.practice + " (s saves a draft)"
	}
	return what
}

func (m *Manual) current() (domain.FieldKey, bool) {
	if m.form == nil || m.table.Cursor >= len(m.form.Fields) {
		return domain.FieldKey{}, false
	}
	f := m.form.Fields[m.table.Cursor]
	return domain.FieldKey{Indicator: f.Indicator, Field: f.Field}, true
}

func (m *Manual) canEdit() error {
	if m.form == nil {
		return errors.New("no form to edit")
	}
	if err := m.env.Why(domain.ActEnterManual, m.practice); err != nil {
		return err
	}
	if m.form.Closed != "" {
		return errors.New(m.form.Closed)
	}
	return nil
}

func (m *Manual) Update(msg tea.Msg) tea.Cmd {
	if d, ok := m.mine(msg); ok {
		m.done(d)
		return nil
	}
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch {
	case m.editing:
		switch k.String() {
		case "esc":
			m.editing = false
			m.say(styles.Muted, "edit cancelled")
		case "enter", "tab", "down":
			key, _ := m.current()
			m.edits[key] = strings.TrimSpace(m.input.Value())
			m.editing = false
			m.validate()
			m.fill()
			if e, bad := m.errs[key]; bad {
				m.say(styles.Bad, fmt.Sprintf("x %s %s: %s", key.Indicator, key.Field, e))
			} else {
				m.clear()
				if k.String() != "enter" {
					m.table.Move(1)
				}
			}
		default:
			m.input.Update(k)
		}
		return nil
	case m.confirm.Active():
		tag, yes, done := m.confirm.Update(k)
		switch {
		case done && yes && tag == "submit":
			return m.save(true)
		case done && yes && tag == "discard":
			m.edits = map[domain.FieldKey]string{}
			m.validate()
			m.fill()
			m.say(styles.Muted, "unsaved changes discarded")
		case done:
			m.say(styles.Muted, "cancelled; nothing changed")
		}
		return nil
	}
	if (k.String() == "p" || k.String() == "c") && len(m.edits) > 0 && !m.picker.Active() {
		m.say(styles.Warn, "save or discard (u) your changes before choosing another form")
		return nil
	}
	if handled, changed := m.pickerKey(&m.modal, k); handled {
		if changed {
			m.table.Cursor = 0
			m.clear()
			m.Reload()
		}
		return nil
	}
	if m.table.HandleKey(k) {
		return nil
	}
	switch k.String() {
	case "enter", "e":
		if err := m.canEdit(); err != nil {
			m.fail(err)
			return nil
		}
		key, ok := m.current()
		if !ok {
			return nil
		}
		m.input = widgets.NewInput(key.Indicator+" "+key.Field+": ", "a whole number; empty clears", 20)
		if raw, ok := m.edits[key]; ok {
			m.input.SetValue(raw)
		} else if f := m.form.Fields[m.table.Cursor]; f.Entered != nil {
			m.input.SetValue(fmt.Sprint(*f.Entered))
		}
		m.input.Focus()
		m.editing = true
	case "s":
		if err := m.canEdit(); err != nil {
			m.fail(err)
			return nil
		}
		if len(m.edits) == 0 {
			m.say(styles.Muted, "nothing changed to save")
			return nil
		}
		return m.save(false)
	case "S":
		if err := m.canEdit(); err != nil {
			m.fail(err)
			return nil
		}
		if n := len(m.errs); n > 0 {
			m.say(styles.Bad, fmt.Sprintf("x %s to fix before submitting", widgets.Plural(n, "problem")))
			return nil
		}
		m.confirm.Ask("submit", fmt.Sprintf("Submit the manual entry of %s for %s? The declaration is recalculated from these values at once.", m.form.Collection.Label(), m.practice))
	case "u":
		if len(m.edits) > 0 {
			m.confirm.Ask("discard", fmt.Sprintf("Discard %s not saved?", widgets.Plural(len(m.edits), "change")))
		}
	}
	return nil
}

func (m *Manual) save(submit bool) tea.Cmd {
	if m.form == nil {
		return nil
	}
	values := make(map[domain.FieldKey]string, len(m.edits))
	for k, v := range m.edits {
		values[k] = v
	}
	s, u, id, practice, ver := m.env.Store(), m.env.User, m.form.Collection.ID, m.practice, m.form.Entry.Version
	tag, verb := "draft", "draft saved"
	if submit {
		tag, verb = "submit", "submitted; the declaration was recalculated"
	}
	return m.env.Run(m.id, tag, func() (string, any, error) {
		_, err := ops.SaveManual(s, u, id, practice, values, submit, ver)
		return verb, nil, err
	})
}

func (m *Manual) done(d Done) {
	var me ops.ManualErrors
	if errors.As(d.Err, &me) {
		m.fail(d.Err)
		for _, fe := range me {
			m.errs[domain.FieldKey{Indicator: fe.Indicator, Field: fe.Field}] = fe.Msg
		}
		m.fill()
		return
	}
	if d.Err != nil {
		m.fail(d.Err)
		m.Reload()
		return
	}
	m.edits = map[domain.FieldKey]string{}
	m.say(styles.OK, d.Text)
	m.Reload()
}

func (m *Manual) View(w, h int) string {
	st := m.env.St
	head := lines(section(st, "Manual entry")+st.Faint.Render("  p practice, c collection"), m.line(st))
	if m.err != nil {
		return m.view(st, lines(head, st.Mark(styles.Bad, m.err.Error())), w, h)
	}
	if m.form == nil {
		return m.view(st, lines(head, st.Faint.Render("nothing to enter by hand: no service this practice takes part in has manual fields, and no extract failed")), w, h)
	}
	f := m.form
	state := st.Mark(styles.Warn, "not started")
	if e := f.Entry; e.Version > 0 {
		tone := styles.Info
		if e.State == domain.ManualSubmitted {
			tone = styles.OK
		}
		state = st.Mark(tone, string(e.State)) + fmt.Sprintf(" by %s %s", e.UpdatedBy, widgets.TimeText(e.UpdatedAt))
	}
	open := widgets.Deadline(st, "enter", m.env.Today(), f.Deadline)
	if f.Closed != "" {
		open = st.Mark(styles.Bad, "closed: "+f.Closed)
	}
	status := "entry: " + state + "  |  " + open
	var probs []string
	keysSorted := make([]domain.FieldKey, 0, len(m.errs))
	for k := range m.errs {
		keysSorted = append(keysSorted, k)
	}
	sort.Slice(keysSorted, func(i, j int) bool { return keysSorted[i].String() < keysSorted[j].String() })
	for _, k := range keysSorted {
		probs = append(probs, fmt.Sprintf("%s %s: %s", k.Indicator, k.Field, m.errs[k]))
	}
	summary := ""
	switch {
	case len(probs) > 0:
		summary = st.Mark(styles.Bad, widgets.Plural(len(probs), "problem")+": "+strings.Join(probs, "; "))
	case len(m.edits) > 0:
		summary = st.Mark(styles.Info, widgets.Plural(len(m.edits), "change")+" not saved yet: s saves a draft, S submits")
	}
	edit := ""
	if m.editing {
		edit = m.input.View(st, w) + st.Faint.Render("   enter accept, esc cancel")
	}
	top := lines(head, strings.Join(widgets.Wrap(status, w), "\n"))
	if f.Note != "" {
		tone := styles.Info
		if f.Auto == ops.AutoFailed {
			tone = styles.Bad
		}
		top = lines(top, strings.Join(widgets.Wrap(st.Mark(tone, f.Note), w), "\n"))
	}
	var about []string
	if k, ok := m.current(); ok && m.svc != nil {
		if d, ok := m.svc.Indicator(k.Indicator); ok {
			about = append(about, widgets.Wrap(st.Heading.Render(k.Indicator+" "+k.Field)+": "+d.Description, w)...)
			if d.CapIndicator != "" {
				about = append(about, st.Faint.Render("caps "+d.CapIndicator+"'s payable count"))
			}
		}
		var ext []string
		for _, key := range sortedPairs(m.extracted) {
			ext = append(ext, fmt.Sprintf("%s %s %s", key[0], key[1], widgets.Int(m.extracted[key])))
		}
		if len(ext) > 0 && len(ext) <= 12 {
			about = append(about, widgets.Wrap(st.Faint.Render("extracted for this collection: "+strings.Join(ext, ", ")), w)...)
		}
	}
	bottomPart := lines(strings.Join(about, "\n"), summary, edit)
	used := strings.Count(top, "\n") + 2 + strings.Count(bottomPart, "\n") + 1
	return m.view(st, lines(top, "", m.table.View(st, w, h-used), bottomPart), w, h)
}

func (m *Manual) Keys() help.KeyMap {
	if m.editing {
		return keys(bindAs("type", "value", "a"), bind("accept", "enter"), bind("accept and next", "tab"), bind("cancel", "esc"))
	}
	if m.open() {
		return m.modal.keys()
	}
	editable := m.canEdit() == nil
	e, s, S := bind("edit field", "enter"), bind("save draft", "s"), bind("submit", "S")
	e.SetEnabled(editable)
	s.SetEnabled(editable)
	S.SetEnabled(editable)
	u := bind("discard changes", "u")
	u.SetEnabled(len(m.edits) > 0)
	return keys(bind("field", "up", "down"), e, s, S, bind("practice", "p"), bind("collection", "c"), u)
}

func sortedPairs(m map[[2]string]int64) [][2]string {
	out := make([][2]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i][0] != out[j][0] {
			return out[i][0] < out[j][0]
		}
		return out[i][1] < out[j][1]
	})
	return out
}
