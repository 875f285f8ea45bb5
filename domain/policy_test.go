package domain

import (
	"errors"
	"strings"
	"testing"
)

// The authorization matrix: every role bundle x every action x a target in
// the user's own organisation ("o") and in another organisation ("x").
// Practice-level actions aim at practice A81001 (commissioner QWE) or
// B82001 (commissioner QXX); national actions at the national organisation;
// export at a service requested by NHSE01 (the requester's own) or DHSC01.
const matrix = `
action              practice-staff  commissioner-approver  commissioner-finance  support  admin  requester
view-timetable      YY              YY                     YY                    YY       YY     YY
view-service-info   YY              YY                     YY                    YY       YY     YY
view-values         YN              YN                     YN                    YY       YY     NN
view-money          YN              YN                     YN                    NN       YY     NN
accept-offer        YN              NN                     NN                    NN       NN     NN
decline-offer       YN              NN                     NN                    NN       NN     NN
withdraw-participation YN           YN                     NN                    NN       NN     NN
make-offer          NN              YN                     NN                    NN       NN     NN
enter-manual        YN              YN                     NN                    NN       NN     NN
declare             YN              NN                     NN                    NN       NN     NN
approve             NN              YN                     NN                    NN       NN     NN
return              NN              YN                     YN                    NN       NN     NN
finance-approve     NN              NN                     YN                    NN       NN     NN
request-check       YN              NN                     NN                    NN       YY     NN
manage-timetable    NN              NN                     NN                    NN       YY     NN
manage-services     NN              NN                     NN                    NN       YY     NN
extend-deadline     NN              NN                     NN                    NN       YY     NN
control-extraction  NN              NN                     NN                    NN       YY     NN
view-monitor        NN              NN                     NN                    YY       YY     NN
record-extract      NN              NN                     NN                    NN       YY     NN
manage-users        NN              NN                     NN                    NN       YY     NN
manage-orgs         NN              NN                     NN                    NN       YY     NN
view-users          YN              YN                     YN                    YY       YY     NN
view-audit          YN              YN                     YN                    YY       YY     NN
export              NN              NN                     NN                    YY       YY     YN
run-payments        NN              NN                     NN                    NN       YY     NN
backup              NN              NN                     NN                    NN       YY     NN
`

var nationalActions = map[Action]bool{
	ActManageTimetable: true, ActManageServices: true, ActExtendDeadline: true,
	ActControlExtraction: true, ActViewMonitor: true, ActManageOrgs: true, ActBackup: true, ActRecordExtract: true, ActRunPayments: true,
}

func bundleUser(t *testing.T, b Bundle) *User {
	t.Helper()
	org := map[OrgKind]string{OrgPractice: "A81001", OrgCommissioner: "QWE", OrgNational: NationalCode, OrgRequester: "NHSE01"}[b.Kind]
	u := &User{Name: strings.ReplaceAll(b.Name, "-", ".")}
	for _, r := range b.Roles {
		if err := u.AddGrant(Grant{Org: org, OrgKind: b.Kind, Role: r}); err != nil {
			t.Fatal(err)
		}
	}
	if err := u.Validate(); err != nil {
		t.Fatal(err)
	}
	return u
}

func matrixTargets(a Action) (own, other Target) {
	mine := &Org{Code: "A81001", Kind: OrgPractice, Parent: "QWE"}
	theirs := &Org{Code: "B82001", Kind: OrgPractice, Parent: "QXX"}
	switch {
	case nationalActions[a]:
		return TargetNational(), TargetNational()
	case a == ActExport:
		return TargetService(&ServiceDef{RequestedBy: "NHSE01"}), TargetService(&ServiceDef{RequestedBy: "DHSC01"})
	}
	return TargetOf(mine), TargetOf(theirs)
}

func TestAuthorizationMatrix(t *testing.T) {
	lines := strings.Split(strings.TrimSpace(matrix), "\n")
	header := strings.Fields(lines[0])[1:]
	if len(header) != len(Bundles) {
		t.Fatalf("matrix has %d bundles, domain ships %d", len(header), len(Bundles))
	}
	users := map[string]*User{}
	for _, name := range header {
		b, err := BundleByName(name)
		if err != nil {
			t.Fatal(err)
		}
		users[name] = bundleUser(t, b)
	}
	covered := map[Action]bool{}
	for _, line := range lines[1:] {
		cells := strings.Fields(line)
		a := Action(cells[0])
		covered[a] = true
		own, other := matrixTargets(a)
		for i, cell := range cells[1:] {
			u := users[header[i]]
			for j, target := range []Target{own, other} {
				want := cell[j] == 'Y'
				err := Authorize(u, a, target)
				if want && err != nil {
					t.Errorf("%s %s on %s: want allowed, got %v", header[i], a, target, err)
				}
				if !want {
					var d *Denied
					if !errors.As(err, &d) {
						t.Errorf("%s %s on %s: want denied, got allowed", header[i], a, target)
					} else if d.Reason == "" {
						t.Errorf("%s %s: denial without a reason", header[i], a)
					}
				}
			}
		}
	}
	for _, a := range Actions {
		if !covered[a] {
			t.Errorf("action %s missing from the matrix", a)
		}
	}
}

func TestPracticeNeverReadsAnotherPractice(t *testing.T) {
	b, _ := BundleByName("practice-staff")
	u := bundleUser(t, b)
	sameICB := &Org{Code: "A81002", Kind: OrgPractice, Parent: "QWE"}
	for _, a := range []Action{ActViewValues, ActViewMoney, ActViewAudit, ActDeclare, ActEnterManual} {
		if Can(u, a, TargetOf(sameICB)) {
			t.Errorf("practice user may %s for a neighbouring practice of the same commissioner", a)
		}
	}
}

func TestSystemUserNeverDecides(t *testing.T) {
	p := &Org{Code: "A81001", Kind: OrgPractice, Parent: "QWE"}
	for _, a := range []Action{ActDeclare, ActApprove, ActReturn, ActFinanceApprove, ActAcceptOffer, ActEnterManual, ActMakeOffer} {
		if Can(SystemUser, a, TargetOf(p)) {
			t.Errorf("the scheduler may %s", a)
		}
	}
	if err := Authorize(SystemUser, ActRecordExtract, TargetNational()); err != nil {
		t.Errorf("the scheduler must record extracts: %v", err)
	}
}

func TestDisabledAndAnonymousRefused(t *testing.T) {
	b, _ := BundleByName("admin")
	u := bundleUser(t, b)
	u.Disabled = true
	if err := Authorize(u, ActViewTimetable, TargetNational()); err == nil || !strings.Contains(err.Error(), "disabled") {
		t.Errorf("disabled user: %v", err)
	}
	if err := Authorize(nil, ActViewTimetable, TargetNational()); err == nil {
		t.Error("anonymous allowed")
	}
}

func TestGrantToWrongKindOfOrganisation(t *testing.T) {
	u := &User{Name: "bob"}
	err := u.AddGrant(Grant{Org: "A81001", OrgKind: OrgPractice, Role: RoleApprovalManagement})
	if err == nil || !strings.Contains(err.Error(), "cannot be held for a practice") {
		t.Fatalf("got %v", err)
	}
	if len(u.Grants) != 0 {
		t.Fatal("a refused grant changed the user")
	}
}

// CannotReach is a shortcut list views take before reading an organisation:
// whenever it says "no", Authorize says no for every target that org could
// be (any commissioner, any requester, any kind); and it does say no for a
// practice user and another practice.
func TestCannotReachNeverContradictsAuthorize(t *testing.T) {
	orgs := []string{"A81001", "A81002", "QWE", "QXX", NationalCode, "NHSE01", "DHSC01"}
	users := []*User{SystemUser}
	for _, b := range Bundles {
		users = append(users, bundleUser(t, b))
	}
	two := &User{Name: "two.practices"}
	for _, o := range []string{"A81001", "B82001"} {
		if err := two.AddGrant(Grant{Org: o, OrgKind: OrgPractice, Role: RoleView}); err != nil {
			t.Fatal(err)
		}
	}
	users = append(users, two)
	shortcuts := 0
	for _, u := range users {
		for _, a := range Actions {
			for _, org := range orgs {
				if !CannotReach(u, a, org) {
					continue
				}
				shortcuts++
				for _, kind := range []OrgKind{OrgPractice, OrgCommissioner, OrgNational, OrgRequester} {
					for _, comm := range append([]string{""}, orgs...) {
						for _, req := range append([]string{""}, orgs...) {
							tg := Target{Org: org, Kind: kind, Commissioner: comm, RequestedBy: req}
							if Can(u, a, tg) {
								t.Fatalf("CannotReach(%s, %s, %s) but Authorize allows %+v", u.Name, a, org, tg)
							}
						}
					}
				}
			}
		}
	}
	b, _ := BundleByName("practice-staff")
	if !CannotReach(bundleUser(t, b), ActViewValues, "A81002") || CannotReach(bundleUser(t, b), ActViewValues, "A81001") || shortcuts == 0 {
		t.Fatal("the shortcut does not apply to a practice user and another practice, or applies to their own")
	}
}

// ReachesAll is the other shortcut: whenever it says "yes", Authorize says
// yes for every target; it says yes for an administrator viewing values.
func TestReachesAllNeverContradictsAuthorize(t *testing.T) {
	orgs := []string{"", "A81001", "QWE", NationalCode, "NHSE01"}
	users := []*User{SystemUser, {Name: "nobody"}}
	for _, b := range Bundles {
		users = append(users, bundleUser(t, b))
	}
	disabled := bundleUser(t, Bundles[len(Bundles)-2])
	disabled.Disabled = true
	users = append(users, disabled)
	yes := 0
	for _, u := range users {
		for _, a := range Actions {
			if !ReachesAll(u, a) {
				continue
			}
			yes++
			for _, kind := range []OrgKind{OrgPractice, OrgCommissioner, OrgNational, OrgRequester} {
				for _, org := range orgs {
					for _, comm := range orgs {
						for _, req := range orgs {
							tg := Target{Org: org, Kind: kind, Commissioner: comm, RequestedBy: req}
							if !Can(u, a, tg) {
								t.Fatalf("ReachesAll(%s, %s) but Authorize refuses %+v", u.Name, a, tg)
							}
						}
					}
				}
			}
		}
	}
	admin, _ := BundleByName("admin")
	if !ReachesAll(bundleUser(t, admin), ActViewValues) || yes == 0 {
		t.Fatal("the shortcut does not apply to an administrator viewing values")
	}
}
