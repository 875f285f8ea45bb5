package screens

import (
	"fmt"
	"sort"

	tea "github.com/charmbracelet/bubbletea"

	"gpcollections/domain"
	"gpcollections/tui/styles"
	"gpcollections/tui/widgets"
)

// chooser is the practice and collection a practice-level screen is
// looking at, chosen from the practices the user may see and the
// collections the screen offers for that practice.
type chooser struct {
	practices []*domain.Org
	practice  string
	colls     []*domain.Collection
	coll      uint64
}

// setPractices replaces the practice list, keeping the current practice if
// it is still allowed.
func (c *chooser) setPractices(ps []*domain.Org) {
	c.practices = ps
	for _, p := range ps {
		if p.Code == c.practice {
			return
		}
	}
	c.practice = ""
	if len(ps) > 0 {
		c.practice = ps[0].Code
	}
}

// setColls replaces the collection list (newest achievement date first),
// keeping the current collection if it is still offered.
func (c *chooser) setColls(cs []*domain.Collection) {
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].AchDate != cs[j].AchDate {
			return cs[i].AchDate > cs[j].AchDate
		}
		return cs[i].Service < cs[j].Service
	})
	c.colls = cs
	for _, x := range cs {
		if x.ID == c.coll {
			return
		}
	}
	c.coll = 0
	if len(cs) > 0 {
		c.coll = cs[0].ID
	}
}

func (c *chooser) org() *domain.Org {
	for _, p := range c.practices {
		if p.Code == c.practice {
			return p
		}
	}
	return nil
}

func (c *chooser) collection() *domain.Collection {
	for _, x := range c.colls {
		if x.ID == c.coll {
			return x
		}
	}
	return nil
}

func (c *chooser) practiceItems() []widgets.Item {
	items := make([]widgets.Item, len(c.practices))
	for i, p := range c.practices {
		items[i] = widgets.Item{Key: p.Code, Label: p.Code + "  " + p.Name}
	}
	return items
}

func (c *chooser) collItems() []widgets.Item {
	items := make([]widgets.Item, len(c.colls))
	for i, x := range c.colls {
		items[i] = widgets.Item{Key: fmt.Sprint(x.ID), Label: fmt.Sprintf("%-12s %s  %s", x.Service, widgets.DateText(x.AchDate), x.Status)}
	}
	return items
}

// pick applies a picker's choice.
func (c *chooser) pick(tag, key string) {
	switch tag {
	case "practice":
		c.practice = key
	case "collection":
		var id uint64
		fmt.Sscan(key, &id)
		c.coll = id
	}
}

// line shows what is being looked at.
func (c *chooser) line(st *styles.Styles) string {
	p := c.org()
	if p == nil {
		return st.Faint.Render("no practice you may see")
	}
	s := st.Title.Render(p.Code) + " " + st.Heading.Render(p.Name)
	if x := c.collection(); x != nil {
		s += "  -  " + st.Title.Render(x.Service) + " " + st.Heading.Render(widgets.DateText(x.AchDate))
	}
	return s
}

// refresh re-reads the practices the user may take action a on and the
// collections list offers for the chosen one.
func (c *chooser) refresh(env *Env, a domain.Action, list func(*Env, string) ([]*domain.Collection, error)) error {
	ps, err := env.Practices(a)
	if err != nil {
		return err
	}
	c.setPractices(ps)
	if c.practice == "" {
		c.setColls(nil)
		return nil
	}
	cs, err := list(env, c.practice)
	if err != nil {
		return err
	}
	c.setColls(cs)
	return nil
}

// pickerKey handles the practice and collection pickers: an open picker
// takes every key, and p and c open them. handled says the key was used;
// changed that a new practice or collection was chosen.
func (c *chooser) pickerKey(m *modal, k tea.KeyMsg) (handled, changed bool) {
	if m.picker.Active() {
		if key, ok, done := m.picker.Update(k); done && ok {
			c.pick(m.picker.Tag(), key)
			return true, true
		}
		return true, false
	}
	switch k.String() {
	case "p":
		m.picker.Open("practice", "practice", c.practiceItems(), c.practice)
	case "c":
		m.picker.Open("collection", "collection", c.collItems(), fmt.Sprint(c.coll))
	default:
		return false, false
	}
	return true, false
}
