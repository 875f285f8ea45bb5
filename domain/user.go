package domain

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Role is a CQRS-style role, always held for one organisation.
type Role string

const (
	RoleView                    Role = "view"
	RoleFinanceView             Role = "finance-view"
	RoleAchievementEntry        Role = "achievement-entry"
	RoleServiceManagement       Role = "service-management"
	RoleDeclarationManagement   Role = "declaration-management"
	RoleCommissioningManagement Role = "commissioning-management"
	RoleApprovalManagement      Role = "approval-management"
	RoleFinanceManagement       Role = "finance-management"
	RoleUserAdministration      Role = "user-administration"
	RoleTimetableAdministration Role = "timetable-administration"
	RoleExtractMonitor          Role = "extract-monitor"
)

// Roles lists every role in display order.
var Roles = []Role{
	RoleView, RoleFinanceView, RoleAchievementEntry, RoleServiceManagement,
	RoleDeclarationManagement, RoleCommissioningManagement, RoleApprovalManagement,
	RoleFinanceManagement, RoleUserAdministration, RoleTimetableAdministration,
	RoleExtractMonitor,
}

// Title is the role's name as users know it.
func (r Role) Title() string {
	switch r {
	case RoleView:
		return "View"
	case RoleFinanceView:
		return "Finance View"
	case RoleAchievementEntry:
		return "Achievement Entry"
	case RoleServiceManagement:
		return "Service Management"
	case RoleDeclarationManagement:
		return "Declaration Management"
	case RoleCommissioningManagement:
		return "Commissioning Management"
	case RoleApprovalManagement:
		return "Approval Management"
	case RoleFinanceManagement:
		return "Finance Management"
	case RoleUserAdministration:
		return "User Administration"
	case RoleTimetableAdministration:
		return "Timetable Administration"
	case RoleExtractMonitor:
		return "Extract Monitor"
	}
	return string(r)
}

// grantable says which roles an organisation of each kind can hold.
var grantable = map[OrgKind]map[Role]bool{
	OrgPractice: {RoleView: true, RoleFinanceView: true, RoleAchievementEntry: true,
		RoleServiceManagement: true, RoleDeclarationManagement: true, RoleUserAdministration: true},
	OrgCommissioner: {RoleView: true, RoleFinanceView: true, RoleAchievementEntry: true,
		RoleCommissioningManagement: true, RoleApprovalManagement: true, RoleFinanceManagement: true,
		RoleUserAdministration: true},
	OrgNational: {RoleView: true, RoleFinanceView: true, RoleUserAdministration: true,
		RoleTimetableAdministration: true, RoleExtractMonitor: true},
	OrgRequester: {RoleView: true},
}

// ParseRole accepts the role's id ("approval-management") or title.
func ParseRole(s string) (Role, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for _, r := range Roles {
		if string(r) == t || strings.ToLower(r.Title()) == t {
			return r, nil
		}
	}
	return "", fmt.Errorf("role %q: not a role; roles are %s", s, roleList())
}

func roleList() string {
	var n []string
	for _, r := range Roles {
		n = append(n, string(r))
	}
	return strings.Join(n, ", ")
}

// CanHold reports whether an organisation of kind k can hold role r, and why not.
func CanHold(k OrgKind, r Role) error {
	roles, ok := grantable[k]
	if !ok {
		return fmt.Errorf("organisation kind %q holds no roles", k)
	}
	if !roles[r] {
		var can []string
		for _, x := range Roles {
			if roles[x] {
				can = append(can, string(x))
			}
		}
		return fmt.Errorf("role %s cannot be held for a %s organisation (a %s can hold: %s)", r, k, k, strings.Join(can, ", "))
	}
	return nil
}

// Grant is one role held for one organisation.
type Grant struct {
	Org     string  `json:"org"`
	OrgKind OrgKind `json:"orgKind"`
	Role    Role    `json:"role"`
}

func (g Grant) String() string { return fmt.Sprintf("%s@%s", g.Role, g.Org) }

// Bundle is a named set of roles for the people who use the system.
type Bundle struct {
	Name    string
	Kind    OrgKind
	Roles   []Role
	Purpose string
}

// Bundles are the shipped role bundles.
var Bundles = []Bundle{
	{Name: "practice-staff", Kind: OrgPractice, Purpose: "practice manager: reviews values, enters manual data, accepts offers, declares",
		Roles: []Role{RoleView, RoleFinanceView, RoleAchievementEntry, RoleServiceManagement, RoleDeclarationManagement}},
	{Name: "commissioner-approver", Kind: OrgCommissioner, Purpose: "ICB approver: makes offers, approves or returns declarations, enters on a practice's behalf",
		Roles: []Role{RoleView, RoleFinanceView, RoleCommissioningManagement, RoleApprovalManagement, RoleAchievementEntry}},
	{Name: "commissioner-finance", Kind: OrgCommissioner, Purpose: "ICB finance: financial approval after the commissioner's approval",
		Roles: []Role{RoleView, RoleFinanceView, RoleFinanceManagement}},
	{Name: "support", Kind: OrgNational, Purpose: "helpdesk: reads every organisation's values, timetable, monitor and audit; changes nothing",
		Roles: []Role{RoleView}},
	{Name: "admin", Kind: OrgNational, Purpose: "national administrator: timetable, extraction, users, services and payment runs",
		Roles: []Role{RoleView, RoleFinanceView, RoleUserAdministration, RoleTimetableAdministration, RoleExtractMonitor}},
	{Name: "requester", Kind: OrgRequester, Purpose: "requesting organisation: receives the data of the services it requested",
		Roles: []Role{RoleView}},
}

// BundleByName finds a bundle.
func BundleByName(name string) (Bundle, error) {
	for _, b := range Bundles {
		if b.Name == name {
			return b, nil
		}
	}
	var n []string
	for _, b := range Bundles {
		n = append(n, b.Name)
	}
	return Bundle{}, fmt.Errorf("role bundle %q: not a bundle; bundles are %s", name, strings.Join(n, ", "))
}

// PublicKey is an SSH public key a user signs in with.
type PublicKey struct {
	Fingerprint string `json:"fingerprint"` // SHA256:... as ssh-keygen prints it
	Line        string `json:"line"`        // authorized_keys form
	Comment     string `json:"comment,omitempty"`
	Added       Date   `json:"added"`
}

// User is a person (or the system itself) acting in gpc.
type User struct {
	Rev
	Name     string      `json:"name"`
	FullName string      `json:"fullName"`
	Grants   []Grant     `json:"grants"`
	Keys     []PublicKey `json:"keys,omitempty"`
	Disabled bool        `json:"disabled,omitempty"`
	// system marks the built-in scheduler principal; never stored.
	system bool
}

// SystemUser is the principal the scheduler and automatic steps act as. It
// may never take a decision that belongs to a person (see Authorize).
var SystemUser = &User{Name: "system", FullName: "gpc scheduler", system: true}

// IsSystem reports the built-in principal.
func (u *User) IsSystem() bool { return u != nil && u.system }

var userName = regexp.MustCompile(`^[a-z][a-z0-9._-]{1,31}$`)

// ValidateUserName checks a login name.
func ValidateUserName(name string) error {
	if !userName.MatchString(name) {
		return fmt.Errorf("user name %q: want 2-32 characters, lower-case letters, digits, '.', '_' or '-', starting with a letter", name)
	}
	if name == SystemUser.Name {
		return fmt.Errorf("user name %q is reserved for the scheduler", name)
	}
	return nil
}

// Validate checks the user on its own.
func (u *User) Validate() error {
	if err := ValidateUserName(u.Name); err != nil {
		return err
	}
	seen := map[Grant]bool{}
	for _, g := range u.Grants {
		if err := ValidateOrgCode(g.OrgKind, g.Org); err != nil {
			return fmt.Errorf("user %s: grant %s: %w", u.Name, g, err)
		}
		if err := CanHold(g.OrgKind, g.Role); err != nil {
			return fmt.Errorf("user %s: grant %s: %w", u.Name, g, err)
		}
		if seen[g] {
			return fmt.Errorf("user %s: grant %s given twice", u.Name, g)
		}
		seen[g] = true
	}
	fps := map[string]bool{}
	for _, k := range u.Keys {
		if k.Fingerprint == "" || fps[k.Fingerprint] {
			return fmt.Errorf("user %s: key %q missing or listed twice", u.Name, k.Fingerprint)
		}
		fps[k.Fingerprint] = true
	}
	return nil
}

// AddGrant adds a grant; it is an error to add one already held.
func (u *User) AddGrant(g Grant) error {
	if err := CanHold(g.OrgKind, g.Role); err != nil {
		return err
	}
	for _, h := range u.Grants {
		if h == g {
			return fmt.Errorf("user %s already holds %s", u.Name, g)
		}
	}
	u.Grants = append(u.Grants, g)
	sort.Slice(u.Grants, func(i, j int) bool {
		if u.Grants[i].Org != u.Grants[j].Org {
			return u.Grants[i].Org < u.Grants[j].Org
		}
		return u.Grants[i].Role < u.Grants[j].Role
	})
	return nil
}

// RemoveGrant removes a grant; it is an error to remove one not held.
func (u *User) RemoveGrant(g Grant) error {
	for i, h := range u.Grants {
		if h.Org == g.Org && h.Role == g.Role {
			u.Grants = append(u.Grants[:i], u.Grants[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("user %s does not hold %s", u.Name, g)
}

// Holds reports whether the user holds role r for organisation org.
func (u *User) Holds(r Role, org string) bool {
	for _, g := range u.Grants {
		if g.Role == r && g.Org == org {
			return true
		}
	}
	return false
}

// Orgs lists the organisations the user holds any role for.
func (u *User) Orgs() []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range u.Grants {
		if !seen[g.Org] {
			seen[g.Org] = true
			out = append(out, g.Org)
		}
	}
	sort.Strings(out)
	return out
}
