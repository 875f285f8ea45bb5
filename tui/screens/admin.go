package screens

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"

	"gpcollections/domain"
	sshkeys "gpcollections/keys"
	"gpcollections/store"
	"gpcollections/store/ops"
	"gpcollections/tui/session"
	"gpcollections/tui/styles"
	"gpcollections/tui/widgets"
)

// Admin is administration: users (add, grant or revoke a role bundle,
// disable, keys) and services with their payment parameters (view, and add
// a corrected version, which recalculates the service).
type Admin struct {
	base
	modal
	pane   int // 0 users, 1 services
	users  []*domain.User
	svcs   []*domain.ServiceDef
	utable widgets.Table
	stable widgets.Table
	wiz    wizard
	// picked holds what a picker chose for the step that follows (a
	// bundle to grant, an organisation to revoke, a key to remove).
	picked string
	// params is the correction being confirmed.
	params *domain.PaymentParams
	reason string
	err    error
	// aimUser and aimSvc name the user or service an action was started
	// on. Pickers, forms and questions finish on them, not on whatever row
	// the list shows under the cursor by then (another administrator's
	// new user reorders it).
	aimUser, aimSvc string
	// aimParams is the version of the aimed service's latest payment
	// parameters the correction's prompts were filled from (and, once
	// asked, its confirmation names): another correction since would be
	// put back, unsaid, by confirming.
	aimParams int
}

// NewAdmin makes the administration screen.
func NewAdmin(env *Env) *Admin {
	return &Admin{base: newBase(env),
		utable: widgets.Table{Empty: "no users you may see", Cols: []widgets.Column{{Title: "User", Width: 10},
			{Title: "Name", Width: 18}, {Title: "Status", Width: 10}, {Title: "Keys", Width: 4, Right: true}, {Title: "Roles"}}},
		stable: widgets.Table{Empty: "no services", Cols: []widgets.Column{{Title: "Service", Width: 12},
			{Title: "Kind", Width: 15}, {Title: "Params", Width: 6, Right: true}, {Title: "In force"}}},
	}
}

func (a *Admin) Name() string  { return "admin" }
func (a *Admin) Title() string { return "Admin" }
func (a *Admin) Short() string { return "Admin" }
func (a *Admin) Available() bool {
	return a.env.CanAny(domain.ActViewUsers) || a.env.CanAny(domain.ActManageUsers) || a.env.CanAny(domain.ActManageServices)
}
func (a *Admin) Capturing() bool { return a.open() || a.wiz.tag != "" }

func (a *Admin) Wants(m session.Invalidate) bool { return m.Touches("service", "user", "org") }

func (a *Admin) canUsers() bool { return a.env.CanAny(domain.ActManageUsers) }

func (a *Admin) canServices() bool {
	return domain.Can(a.env.User, domain.ActManageServices, domain.TargetNational())
}

func (a *Admin) Reload() {
	a.err = nil
	if a.env.CanAny(domain.ActViewUsers) || a.canUsers() {
		a.users, a.err = ops.Users(a.env.Store(), a.env.User)
	}
	if a.err == nil {
		a.svcs, a.err = a.env.Services()
	}
	st := a.env.St
	rows := make([][]string, 0, len(a.users))
	for _, u := range a.users {
		status := st.Mark(styles.OK, "active")
		if u.Disabled {
			status = st.Mark(styles.Bad, "disabled")
		}
		rows = append(rows, []string{u.Name, u.FullName, status, fmt.Sprint(len(u.Keys)), rolesText(u)})
	}
	a.utable.SetRows(rows)
	rows = rows[:0:0]
	for _, s := range a.svcs {
		in := "none"
		if p, ok := s.ParamsOn(a.env.Today()); ok {
			in = ParamsText(s, p)
		}
		rows = append(rows, []string{s.ID, string(s.Kind), fmt.Sprint(len(s.Payment)), in})
	}
	a.stable.SetRows(rows)
	// A correction awaiting y whose service another session has corrected
	// since it was asked.
	if svc := a.aimedService(); a.confirm.Active() && a.params != nil && svc != nil && paramsVersion(svc) != a.aimParams {
		a.confirm.Cancel()
		a.params = nil
		a.say(styles.Warn, correctedMeanwhile{svc}.Error())
	}
}

// rolesText summarises grants per organisation, naming a bundle when the
// roles held are exactly one.
func rolesText(u *domain.User) string {
	var parts []string
	for _, org := range u.Orgs() {
		parts = append(parts, org+" "+orgRoles(u, org))
	}
	return strings.Join(parts, "; ")
}

func heldRoles(u *domain.User, org string) []domain.Role {
	var rs []domain.Role
	for _, g := range u.Grants {
		if g.Org == org {
			rs = append(rs, g.Role)
		}
	}
	return rs
}

func orgRoles(u *domain.User, org string) string {
	held := heldRoles(u, org)
	set := map[domain.Role]bool{}
	for _, r := range held {
		set[r] = true
	}
	var kind domain.OrgKind
	for _, g := range u.Grants {
		if g.Org == org {
			kind = g.OrgKind
		}
	}
	for _, b := range domain.Bundles {
		if b.Kind != kind || len(b.Roles) != len(held) {
			continue
		}
		all := true
		for _, r := range b.Roles {
			all = all && set[r]
		}
		if all {
			return b.Name
		}
	}
	names := make([]string, len(held))
	for i, r := range held {
		names[i] = string(r)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func (a *Admin) user() *domain.User {
	if a.pane == 0 && a.utable.Cursor < len(a.users) && len(a.users) > 0 {
		return a.users[a.utable.Cursor]
	}
	return nil
}

// aimedUser is the user the action in progress was started on.
func (a *Admin) aimedUser() *domain.User {
	for _, u := range a.users {
		if u.Name == a.aimUser {
			return u
		}
	}
	return nil
}

// aimedService is the service the correction in progress was started on.
func (a *Admin) aimedService() *domain.ServiceDef {
	for _, svc := range a.svcs {
		if svc.ID == a.aimSvc {
			return svc
		}
	}
	return nil
}

func (a *Admin) service() *domain.ServiceDef {
	if a.pane == 1 && a.stable.Cursor < len(a.svcs) && len(a.svcs) > 0 {
		return a.svcs[a.stable.Cursor]
	}
	return nil
}

func (a *Admin) start(tag string, steps ...wstep) { a.wiz.start(&a.modal, tag, steps...) }

func (a *Admin) Update(msg tea.Msg) tea.Cmd {
	if d, ok := a.mine(msg); ok {
		a.report(d)
		a.Reload()
		return nil
	}
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch {
	case a.picker.Active():
		if key, ok, done := a.picker.Update(k); done && ok {
			return a.picked2(a.picker.Tag(), key)
		}
		return nil
	case a.confirm.Active():
		tag, yes, done := a.confirm.Update(k)
		if done && yes {
			return a.act(tag)
		}
		if done {
			a.params = nil
			a.say(styles.Muted, "cancelled; nothing changed")
		}
		return nil
	case a.wiz.active():
		if tag, ans, finished := a.wiz.update(&a.base, &a.modal, k); finished {
			return a.finish(tag, ans)
		}
		return nil
	}
	t := &a.utable
	if a.pane == 1 {
		t = &a.stable
	}
	if t.HandleKey(k) {
		return nil
	}
	u := a.user()
	switch k.String() {
	case "s":
		a.pane = 1 - a.pane
		a.clear()
	case "n":
		if a.pane != 0 {
			return nil
		}
		if err := a.mayUsers(); err != nil {
			a.fail(err)
			return nil
		}
		a.start("add-user", wstep{key: "name", question: "New user's login name (lower case, e.g. jsmith)", label: "name: ", check: plain(domain.ValidateUserName)},
			wstep{key: "full", question: "Their full name", label: "full name: "})
	case "g", "R", "d", "k", "x":
		if u == nil {
			return nil
		}
		if err := a.mayUsers(); err != nil {
			a.fail(err)
			return nil
		}
		a.aimUser = u.Name
		switch k.String() {
		case "g":
			var items []widgets.Item
			for _, b := range domain.Bundles {
				items = append(items, widgets.Item{Key: b.Name, Label: fmt.Sprintf("%-22s %s", b.Name, b.Purpose)})
			}
			a.picker.Open("bundle", "role bundle to grant "+u.Name, items, "")
		case "R":
			var items []widgets.Item
			for _, org := range u.Orgs() {
				items = append(items, widgets.Item{Key: org, Label: org + "  " + orgRoles(u, org)})
			}
			if len(items) == 0 {
				a.say(styles.Muted, u.Name+" holds no roles")
				return nil
			}
			a.picker.Open("revoke", "organisation whose roles to revoke from "+u.Name, items, "")
		case "d":
			if u.Disabled {
				return a.act("enable")
			}
			a.confirm.Ask("disable", fmt.Sprintf("Disable %s (%s)? Their sessions end and they cannot sign in until enabled again.", u.Name, u.FullName))
		case "k":
			today := a.env.Today()
			a.start("add-key", wstep{key: "line", question: "Paste " + u.Name + "'s public key (one authorized_keys line)", label: "key: ",
				check: plain(func(v string) error { _, err := sshkeys.ParseAuthorizedKey(v, today); return err })})
		case "x":
			var items []widgets.Item
			for _, key := range u.Keys {
				items = append(items, widgets.Item{Key: key.Fingerprint, Label: key.Fingerprint + "  " + key.Comment})
			}
			if len(items) == 0 {
				a.say(styles.Muted, u.Name+" has no keys")
				return nil
			}
			a.picker.Open("key", "key to remove from "+u.Name, items, "")
		}
	case "c":
		svc := a.service()
		if svc == nil {
			return nil
		}
		if err := domain.Authorize(a.env.User, domain.ActManageServices, domain.TargetNational()); err != nil {
			a.fail(err)
			return nil
		}
		a.aimSvc = svc.ID
		a.aimParams = paramsVersion(svc)
		a.start("correct", correctionSteps(svc, a.env.Today())...)
	}
	return nil
}

func (a *Admin) mayUsers() error { return a.env.WhyNot(domain.ActManageUsers) }

// picked2 continues after a picker choice.
func (a *Admin) picked2(tag, key string) tea.Cmd {
	u := a.aimedUser()
	if u == nil {
		return nil
	}
	a.picked = key
	switch tag {
	case "bundle":
		a.start("grant", wstep{key: "org", question: "Grant " + key + " to " + u.Name + " for which organisation? (code, e.g. A81001)", label: "organisation: "})
	case "revoke":
		a.confirm.Ask("revoke", fmt.Sprintf("Revoke every role %s holds for %s (%s)?", u.Name, key, orgRoles(u, key)))
	case "key":
		a.confirm.Ask("remove-key", fmt.Sprintf("Remove key %s from %s? Sessions signed in with it can no longer sign in again.", key, u.Name))
	}
	return nil
}

// correctionSteps asks for each payment parameter, starting from the one in
// force.
func correctionSteps(svc *domain.ServiceDef, today domain.Date) []wstep {
	p, _ := svc.LatestParams()
	steps := []wstep{{key: "from", question: "Corrected parameters for " + svc.ID + " are in force from (YYYY-MM-DD)", label: "from: ", value: p.EffectiveFrom.String(), check: plain(checkDate)}}
	if svc.Kind == domain.KindPoints {
		steps = append(steps,
			wstep{key: "ppp", question: "Pounds per point", label: "£ per point: ", value: p.PencePerPoint.Plain(), check: plain(checkPounds)},
			wstep{key: "avg", question: "National average list size", label: "list size: ", value: strconv.FormatInt(p.NationalAvgListSize, 10), check: plain(checkListSize)})
		ids := make([]string, 0, len(p.NationalPrevalence))
		for id := range p.NationalPrevalence {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			steps = append(steps, wstep{key: "prev:" + id, question: "National prevalence of " + id + " (e.g. 0.075 or 7.5%)", label: id + ": ",
				value: p.NationalPrevalence[id].String(), check: plain(checkRatio)})
		}
	}
	ids := make([]string, 0, len(p.Fees))
	for id := range p.Fees {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		steps = append(steps, wstep{key: "fee:" + id, question: "Fee per item for " + id, label: id + " £: ", value: p.Fees[id].Plain(), check: plain(checkPounds)})
	}
	return append(steps, wstep{key: "reason", question: "Why the correction? (shown to practices whose figures change)", label: "reason: ", check: needReason("a correction")})
}

// The correction's answers are checked as typed with the parsing
// buildParams applies.
func checkDate(v string) error { _, err := domain.ParseDate(v); return err }

func checkPounds(v string) error { _, err := domain.ParsePounds(v); return err }

func checkRatio(v string) error { _, err := domain.ParseRatio(v); return err }

func checkListSize(v string) error { _, err := parseListSize(v); return err }

func checkReason(v string) error { return needReason("a correction")(v, nil) }

func parseListSize(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("national average list size %q: want a whole number above 0", v)
	}
	return n, nil
}

// buildParams reads the answers of a correction into new parameters.
func buildParams(svc *domain.ServiceDef, ans map[string]string) (*domain.PaymentParams, error) {
	old, _ := svc.LatestParams()
	p := old
	p.NationalPrevalence, p.Fees = map[string]domain.Ratio{}, map[string]domain.Pence{}
	var err error
	if p.EffectiveFrom, err = domain.ParseDate(ans["from"]); err != nil {
		return nil, err
	}
	if v, ok := ans["ppp"]; ok {
		if p.PencePerPoint, err = domain.ParsePounds(v); err != nil {
			return nil, err
		}
	}
	if v, ok := ans["avg"]; ok {
		if p.NationalAvgListSize, err = parseListSize(v); err != nil {
			return nil, err
		}
	}
	for k, v := range ans {
		switch {
		case strings.HasPrefix(k, "prev:"):
			r, err := domain.ParseRatio(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", strings.TrimPrefix(k, "prev:"), err)
			}
			p.NationalPrevalence[strings.TrimPrefix(k, "prev:")] = r
		case strings.HasPrefix(k, "fee:"):
			f, err := domain.ParsePounds(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", strings.TrimPrefix(k, "fee:"), err)
			}
			p.Fees[strings.TrimPrefix(k, "fee:")] = f
		}
	}
	if err := checkReason(ans["reason"]); err != nil {
		return nil, err
	}
	p.Note = ans["reason"]
	return &p, nil
}

// paramsVersion is the version of a service's latest payment parameters
// (0: none).
func paramsVersion(svc *domain.ServiceDef) int {
	p, _ := svc.LatestParams()
	return p.Version
}

// correctedMeanwhile says that another session corrected the service's
// payment parameters while this one was confirming its own correction. It
// is a store.ErrConflict, refused as a stale write is.
type correctedMeanwhile struct{ svc *domain.ServiceDef }

func (c correctedMeanwhile) Error() string {
	p, _ := c.svc.LatestParams()
	return fmt.Sprintf("%s's payment parameters were corrected in another session while you were confirming; nothing changed. They are now %s; c starts again from them",
		c.svc.ID, ParamsText(c.svc, p))
}

func (correctedMeanwhile) Unwrap() error { return store.ErrConflict }

// finish acts on a completed wizard.
func (a *Admin) finish(tag string, ans map[string]string) tea.Cmd {
	s, actor := a.env.Store(), a.env.User
	switch tag {
	case "add-user":
		nu := &domain.User{Name: ans["name"], FullName: ans["full"]}
		if err := domain.ValidateUserName(nu.Name); err != nil {
			a.fail(err)
			return nil
		}
		return a.env.Run(a.id, tag, func() (string, any, error) {
			return "added user " + nu.Name + "; grant a role bundle (g) and add a key (k)", nil, ops.AddUser(s, actor, nu)
		})
	case "grant":
		u := a.aimedUser()
		b, err := domain.BundleByName(a.picked)
		if u == nil || err != nil {
			return nil
		}
		org := strings.ToUpper(ans["org"])
		name := u.Name
		return a.env.Run(a.id, tag, func() (string, any, error) {
			return fmt.Sprintf("granted %s for %s to %s", b.Name, org, name), nil, ops.Grant(s, actor, name, org, b.Roles)
		})
	case "add-key":
		u := a.aimedUser()
		if u == nil {
			return nil
		}
		k, err := sshkeys.ParseAuthorizedKey(ans["line"], a.env.Today())
		if err != nil {
			a.fail(err)
			return nil
		}
		name := u.Name
		return a.env.Run(a.id, tag, func() (string, any, error) {
			return "added key " + k.Fingerprint + " to " + name, nil, ops.AddKey(s, actor, name, k)
		})
	case "correct":
		svc := a.aimedService()
		if svc == nil {
			return nil
		}
		p, err := buildParams(svc, ans)
		if err != nil {
			a.fail(err)
			return nil
		}
		a.params, a.reason = p, ans["reason"]
		since := ""
		if v := paramsVersion(svc); v != a.aimParams {
			// Corrected by another session while this form was filled.
			a.aimParams = v
			latest, _ := svc.LatestParams()
			since = fmt.Sprintf("%s's payment parameters were corrected in another session since you began; they are now %s. ", svc.ID, ParamsText(svc, latest))
		}
		a.confirm.Ask("correct", since+fmt.Sprintf("Add corrected payment parameters for %s (%s) and recalculate every open declaration of the service? Refused if a financially approved one would change.",
			svc.ID, ParamsText(svc, *p)))
	}
	return nil
}

// act performs a confirmed action.
func (a *Admin) act(tag string) tea.Cmd {
	s, actor := a.env.Store(), a.env.User
	if tag == "correct" {
		svc := a.aimedService()
		if svc == nil || a.params == nil {
			return nil
		}
		id, p, reason, want := svc.ID, *a.params, a.reason, a.aimParams
		a.params = nil
		return a.env.Run(a.id, tag, func() (string, any, error) {
			// The relay of another session's correction may not have
			// reached this screen before y: ops refuses a correction from
			// parameters no longer in force, and the refusal says what is.
			sum, err := ops.CorrectPaymentParamsFrom(s, actor, id, want, p, reason)
			if errors.Is(err, store.ErrConflict) {
				if cur, rerr := ops.Service(s, actor, id); rerr == nil {
					err = correctedMeanwhile{cur}
				}
			}
			return fmt.Sprintf("%s corrected: %d declarations recalculated, %d unchanged", id, sum.Changed, sum.Unchanged), nil, err
		})
	}
	u := a.aimedUser()
	if u == nil {
		return nil
	}
	name, picked := u.Name, a.picked
	roles := heldRoles(u, picked)
	return a.env.Run(a.id, tag, func() (string, any, error) {
		switch tag {
		case "disable":
			return "disabled " + name, nil, ops.SetDisabled(s, actor, name, true)
		case "enable":
			return "enabled " + name, nil, ops.SetDisabled(s, actor, name, false)
		case "revoke":
			return fmt.Sprintf("revoked %s's roles for %s", name, picked), nil, ops.Revoke(s, actor, name, picked, roles)
		case "remove-key":
			return "removed key " + picked + " from " + name, nil, ops.RemoveKey(s, actor, name, picked)
		}
		return "", nil, fmt.Errorf("unknown action %q", tag)
	})
}

func (a *Admin) View(w, h int) string {
	st := a.env.St
	tabs := []string{"Users", "Services and payment parameters"}
	for i := range tabs {
		if i == a.pane {
			tabs[i] = st.TabActive.Render("[" + tabs[i] + "]")
		} else {
			tabs[i] = st.TabIdle.Render(" " + tabs[i] + " ")
		}
	}
	head := section(st, "Administration") + "  " + strings.Join(tabs, " ") + st.Faint.Render("  (s switches)")
	if a.err != nil {
		return a.view(st, lines(head, st.Mark(styles.Bad, a.err.Error())), w, h)
	}
	var detail []string
	var table string
	if a.pane == 0 {
		if u := a.user(); u != nil {
			detail = append(detail, st.Heading.Render(u.Name)+" "+u.FullName)
			for _, org := range u.Orgs() {
				var titles []string
				for _, r := range heldRoles(u, org) {
					titles = append(titles, r.Title())
				}
				detail = append(detail, widgets.Wrap(fmt.Sprintf("  %s (%s): %s", org, orgRoles(u, org), strings.Join(titles, ", ")), w)...)
			}
			if len(u.Grants) == 0 {
				detail = append(detail, st.Mark(styles.Warn, "holds no roles: grant a bundle (g)"))
			}
			for _, k := range u.Keys {
				detail = append(detail, fmt.Sprintf("  key %s %s added %s", k.Fingerprint, k.Comment, widgets.DateText(k.Added)))
			}
			if len(u.Keys) == 0 {
				detail = append(detail, st.Mark(styles.Warn, "no key: cannot sign in until one is added (k)"))
			}
		}
		if len(detail) > 8 {
			detail = append(detail[:7], st.Faint.Render("..."))
		}
		table = a.utable.View(st, w, h-2-len(detail))
	} else {
		if svc := a.service(); svc != nil {
			detail = append(detail, st.Heading.Render(svc.ID+" payment parameters, every version"))
			ps := append([]domain.PaymentParams(nil), svc.Payment...)
			sort.Slice(ps, func(i, j int) bool { return ps[i].Version > ps[j].Version })
			for _, p := range ps {
				detail = append(detail, widgets.Wrap(ParamsText(svc, p), w)...)
				var fees []string
				ids := make([]string, 0, len(p.Fees))
				for id := range p.Fees {
					ids = append(ids, id)
				}
				sort.Strings(ids)
				for _, id := range ids {
					fees = append(fees, id+" "+p.Fees[id].String())
				}
				if len(fees) > 0 {
					detail = append(detail, widgets.Wrap("  fees: "+strings.Join(fees, ", "), w)...)
				}
				if p.Note != "" {
					detail = append(detail, widgets.Wrap(st.Faint.Render("  note: "+p.Note), w)...)
				}
			}
		}
		if len(detail) > 10 {
			detail = append(detail[:9], st.Faint.Render("..."))
		}
		table = a.stable.View(st, w, h-2-len(detail))
	}
	return a.view(st, lines(head, table, strings.Join(detail, "\n")), w, h)
}

func (a *Admin) Keys() help.KeyMap {
	if a.open() {
		return a.modal.keys()
	}
	mu := a.pane == 0 && a.canUsers()
	n, g, r, d, k, x := bind("new user", "n"), bind("grant bundle", "g"), bind("revoke", "R"), bind("disable/enable", "d"), bind("add key", "k"), bind("remove key", "x")
	for _, b := range []*keyBinding{&n, &g, &r, &d, &k, &x} {
		b.SetEnabled(mu)
	}
	c := bind("correct parameters", "c")
	c.SetEnabled(a.pane == 1 && a.canServices())
	return keys(bind("move", "up", "down"), bind("users/services", "s"), n, g, r, d, k, x, c)
}
