package domain

import (
	"fmt"
	"strings"
)

// Action is something a user asks to do. Every screen, SSH command, CLI
// command and scheduler step maps to one of these and calls Authorize.
type Action string

const (
	ActViewTimetable     Action = "view-timetable"
	ActViewServiceInfo   Action = "view-service-info"
	ActViewValues        Action = "view-values"
	ActViewMoney         Action = "view-money"
	ActAcceptOffer       Action = "accept-offer"
	ActDeclineOffer      Action = "decline-offer"
	ActWithdraw          Action = "withdraw-participation"
	ActMakeOffer         Action = "make-offer"
	ActEnterManual       Action = "enter-manual"
	ActDeclare           Action = "declare"
	ActApprove           Action = "approve"
	ActReturn            Action = "return"
	ActFinanceApprove    Action = "finance-approve"
	ActRequestCheck      Action = "request-check"
	ActManageTimetable   Action = "manage-timetable"
	ActManageServices    Action = "manage-services"
	ActExtendDeadline    Action = "extend-deadline"
	ActControlExtraction Action = "control-extraction"
	ActViewMonitor       Action = "view-monitor"
	ActRecordExtract     Action = "record-extract"
	ActManageUsers       Action = "manage-users"
	ActManageOrgs        Action = "manage-orgs"
	ActViewUsers         Action = "view-users"
	ActViewAudit         Action = "view-audit"
	ActExport            Action = "export"
	ActRunPayments       Action = "run-payments"
	ActBackup            Action = "backup"
)

// Actions lists every action, for the authorization matrix.
var Actions = []Action{
	ActViewTimetable, ActViewServiceInfo, ActViewValues, ActViewMoney, ActAcceptOffer,
	ActDeclineOffer, ActWithdraw, ActMakeOffer, ActEnterManual, ActDeclare, ActApprove,
	ActReturn, ActFinanceApprove, ActRequestCheck, ActManageTimetable, ActManageServices,
	ActExtendDeadline, ActControlExtraction, ActViewMonitor, ActRecordExtract,
	ActManageUsers, ActManageOrgs, ActViewUsers, ActViewAudit, ActExport, ActRunPayments, ActBackup,
}

// Target is what an action is aimed at. For a practice, Commissioner is its
// parent; for service-level data, RequestedBy is the requesting organisation.
type Target struct {
	Org          string
	Kind         OrgKind
	Commissioner string
	RequestedBy  string
}

// TargetOf builds the target for an organisation.
func TargetOf(o *Org) Target {
	t := Target{Org: o.Code, Kind: o.Kind}
	switch o.Kind {
	case OrgPractice:
		t.Commissioner = o.Parent
	case OrgCommissioner:
		t.Commissioner = o.Code
	}
	return t
}

// TargetNational is the target of national operations (timetable, monitor,
// payment runs).
func TargetNational() Target { return Target{Org: NationalCode, Kind: OrgNational} }

// TargetService is the target of a service-level operation such as export.
func TargetService(s *ServiceDef) Target {
	return Target{Org: NationalCode, Kind: OrgNational, RequestedBy: s.RequestedBy}
}

func (t Target) String() string {
	if t.Org == "" {
		return "nothing"
	}
	return fmt.Sprintf("%s %s", t.Kind, t.Org)
}

// Denied is the typed refusal: who, what, on what, and why.
type Denied struct {
	User   string
	Action Action
	Target Target
	Reason string
}

func (d *Denied) Error() string {
	return fmt.Sprintf("%s may not %s for %s: %s", d.User, strings.ReplaceAll(string(d.Action), "-", " "), d.Target, d.Reason)
}

// rule is one row of the policy: any of these roles, held within this reach.
type rule struct {
	roles []Role
	// own: held for the target org itself; comm: held for the target's
	// commissioner; national: held for the national organisation;
	// requester: held for the service's requesting organisation.
	own, comm, national, requester bool
	// anyUser lets any signed-in user with at least one grant.
	anyUser bool
	// humanOnly actions are decisions the scheduler may never take.
	humanOnly bool
	why       string
}

// policy is the whole permission table. Reading it is reading who may do what.
var policy = map[Action]rule{
	ActViewTimetable:     {anyUser: true, why: "signed-in users with any role"},
	ActViewServiceInfo:   {anyUser: true, why: "signed-in users with any role"},
	ActViewValues:        {roles: []Role{RoleView}, own: true, comm: true, national: true, why: "View for the practice, its commissioner or nationally"},
	ActViewMoney:         {roles: []Role{RoleFinanceView}, own: true, comm: true, national: true, why: "Finance View for the practice, its commissioner or nationally"},
	ActAcceptOffer:       {roles: []Role{RoleServiceManagement}, own: true, humanOnly: true, why: "Service Management for the practice"},
	ActDeclineOffer:      {roles: []Role{RoleServiceManagement}, own: true, humanOnly: true, why: "Service Management for the practice"},
	ActWithdraw:          {roles: []Role{RoleServiceManagement, RoleCommissioningManagement}, own: true, comm: true, humanOnly: true, why: "Service Management for the practice or Commissioning Management for its commissioner"},
	ActMakeOffer:         {roles: []Role{RoleCommissioningManagement}, comm: true, humanOnly: true, why: "Commissioning Management for the practice's commissioner"},
	ActEnterManual:       {roles: []Role{RoleAchievementEntry}, own: true, comm: true, humanOnly: true, why: "Achievement Entry for the practice or its commissioner"},
	ActDeclare:           {roles: []Role{RoleDeclarationManagement}, own: true, humanOnly: true, why: "Declaration Management for the practice"},
	ActApprove:           {roles: []Role{RoleApprovalManagement}, comm: true, humanOnly: true, why: "Approval Management for the practice's commissioner"},
	ActReturn:            {roles: []Role{RoleApprovalManagement, RoleFinanceManagement}, comm: true, humanOnly: true, why: "Approval or Finance Management for the practice's commissioner"},
	ActFinanceApprove:    {roles: []Role{RoleFinanceManagement}, comm: true, humanOnly: true, why: "Finance Management for the practice's commissioner"},
	ActRequestCheck:      {roles: []Role{RoleDeclarationManagement, RoleAchievementEntry, RoleExtractMonitor}, own: true, national: true, why: "Declaration Management or Achievement Entry for the practice, or Extract Monitor nationally"},
	ActManageTimetable:   {roles: []Role{RoleTimetableAdministration}, national: true, why: "Timetable Administration nationally"},
	ActManageServices:    {roles: []Role{RoleTimetableAdministration}, national: true, why: "Timetable Administration nationally"},
	ActExtendDeadline:    {roles: []Role{RoleTimetableAdministration}, national: true, why: "Timetable Administration nationally"},
	ActControlExtraction: {roles: []Role{RoleExtractMonitor}, national: true, why: "Extract Monitor nationally"},
	ActViewMonitor:       {roles: []Role{RoleExtractMonitor, RoleView}, national: true, why: "Extract Monitor or View nationally"},
	ActRecordExtract:     {roles: []Role{RoleExtractMonitor}, national: true, why: "the scheduler or Extract Monitor nationally"},
	ActManageUsers:       {roles: []Role{RoleUserAdministration}, own: true, comm: true, national: true, why: "User Administration for the organisation, its commissioner or nationally"},
	ActManageOrgs:        {roles: []Role{RoleUserAdministration, RoleTimetableAdministration}, national: true, why: "User or Timetable Administration nationally"},
	ActViewUsers:         {roles: []Role{RoleUserAdministration, RoleView}, own: true, comm: true, national: true, why: "User Administration or View for the organisation, its commissioner or nationally"},
	ActViewAudit:         {roles: []Role{RoleView}, own: true, comm: true, national: true, why: "View for the organisation, its commissioner or nationally"},
	ActExport:            {roles: []Role{RoleView}, national: true, requester: true, why: "View nationally or for the requesting organisation"},
	ActBackup:            {roles: []Role{RoleUserAdministration}, national: true, why: "User Administration nationally (a backup holds every organisation's data)"},
	ActRunPayments:       {roles: []Role{RoleTimetableAdministration}, national: true, why: "Timetable Administration nationally"},
}

// Authorize is the one permission check: it returns nil when user u may take
// action a on target t, and a *Denied saying why not otherwise. Nothing else
// in gpc decides access; screens only hide what this already refuses.
func Authorize(u *User, a Action, t Target) error {
	deny := func(reason string) error {
		name := "anonymous"
		if u != nil {
			name = u.Name
		}
		return &Denied{User: name, Action: a, Target: t, Reason: reason}
	}
	r, ok := policy[a]
	if !ok {
		return deny("unknown action")
	}
	if u == nil {
		return deny("not signed in")
	}
	if u.Disabled {
		return deny("the account is disabled")
	}
	if u.IsSystem() {
		if r.humanOnly {
			return deny("this is a decision for a person, not the scheduler")
		}
		return nil
	}
	if r.anyUser {
		if len(u.Grants) == 0 {
			return deny("the user holds no roles")
		}
		return nil
	}
	for _, g := range u.Grants {
		if !hasRole(r.roles, g.Role) {
			continue
		}
		switch {
		case r.own && t.Org != "" && g.Org == t.Org:
			return nil
		case r.comm && g.OrgKind == OrgCommissioner && t.Commissioner != "" && g.Org == t.Commissioner:
			return nil
		case r.national && g.OrgKind == OrgNational:
			return nil
		case r.requester && g.OrgKind == OrgRequester && t.RequestedBy != "" && g.Org == t.RequestedBy:
			return nil
		}
	}
	return deny("requires " + r.why)
}

// Can is Authorize as a boolean, for screens deciding what to show.
func Can(u *User, a Action, t Target) bool { return Authorize(u, a, t) == nil }

// ReachesAll reports, without any organisation's record, that Authorize
// allows u action a on every target: u holds a national grant with a role
// the action accepts nationally. List views use it to skip reading every
// organisation. False means "ask Authorize".
func ReachesAll(u *User, a Action) bool {
	r, ok := policy[a]
	if !ok || u == nil || u.Disabled || u.IsSystem() || !r.national {
		return false
	}
	for _, g := range u.Grants {
		if g.OrgKind == OrgNational && hasRole(r.roles, g.Role) {
			return true
		}
	}
	return false
}

// CannotReach reports, without the organisation's record, that Authorize
// refuses u action a on organisation org whatever its commissioner or
// requester: u holds grants for practices only, none of them org. List views
// use it to skip reading every other organisation. False means "ask
// Authorize".
func CannotReach(u *User, a Action, org string) bool {
	r, ok := policy[a]
	if !ok || u == nil || u.IsSystem() || r.anyUser || len(u.Grants) == 0 {
		return false
	}
	for _, g := range u.Grants {
		if g.OrgKind != OrgPractice || g.Org == org {
			return false
		}
	}
	return true
}

func hasRole(rs []Role, r Role) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}
