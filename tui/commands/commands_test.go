package commands

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gpcollections/domain"
	"gpcollections/store"
	"gpcollections/store/ops"
	"gpcollections/tui/internal/fixture"
)

func run(t *testing.T, d *fixture.Data, user, line string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	st := Run(Env{Store: d.Store, User: d.User(t, user), Out: &out, Err: &errb}, line)
	return out.String(), errb.String(), st
}

func TestSplitQuotesAndErrors(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		bad  bool
	}{
		{in: "timetable --json", want: []string{"timetable", "--json"}},
		{in: "  a  'b c'  \"d \\\" e\" f\\ g ", want: []string{"a", "b c", "d \" e", "f g"}},
		{in: "''", want: []string{""}},
		{in: "", want: nil},
		{in: "a 'b", bad: true},
		{in: "a \"b", bad: true},
		{in: "a\\", bad: true},
		{in: "a\x00b", bad: true},
		{in: "a\x1b[2Jb", bad: true},
		{in: strings.Repeat("x ", 65), bad: true},
		{in: strings.Repeat("x", maxLine+1), bad: true},
		{in: "a\xffb", bad: true},
	}
	for _, c := range cases {
		got, err := Split(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("Split(%q) = %q, want an error", c.in, got)
			} else if Status(err) != StatusUsage {
				t.Errorf("Split(%q) error %v is not a usage error", c.in, err)
			}
			continue
		}
		if err != nil || strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
			t.Errorf("Split(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestParseRefusesWhatItDoesNotKnow(t *testing.T) {
	bad := []string{
		"rm -rf /", "timetable --nope", "achievement --service QOF2526", "achievement --date 2026-03-31",
		"achievement --service QOF2526 --date 31/03/2026", "achievement --service QOF2526 --date 2026-03-31 --practice a81001",
		"export --service QOF2526 --date 2026-03-31 --status some", "timetable --status nonsense", "whoami extra",
		"queue --json=maybe",
	}
	for _, line := range bad {
		words, err := Split(line)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := Parse(words); err == nil {
			t.Errorf("Parse(%q) = %+v, want a usage error", line, c)
		} else if Status(err) != StatusUsage {
			t.Errorf("Parse(%q): %v is not a usage error", line, err)
		}
	}
	c, err := Parse([]string{"achievement", "--service", "QOF2526", "--date", "2026-03-31", "--practice", "A81001", "--json"})
	if err != nil || c.Service != "QOF2526" || c.Date != fixture.AchDate || c.Practice != "A81001" || !c.JSON {
		t.Fatalf("Parse achievement = %+v, %v", c, err)
	}
}

func TestUnknownCommandPrintsUsageWithStatus2(t *testing.T) {
	d := fixture.New(t)
	out, errs, st := run(t, d, "pat", "frobnicate")
	if st != StatusUsage || out != "" || !strings.Contains(errs, `unknown command "frobnicate"`) || !strings.Contains(errs, "usage:") {
		t.Fatalf("status %d, out %q, err %q", st, out, errs)
	}
	if _, errs, st := run(t, d, "pat", ""); st != StatusUsage || !strings.Contains(errs, "no command") {
		t.Fatalf("empty command: status %d, err %q", st, errs)
	}
}

func TestWhoAmIJSON(t *testing.T) {
	d := fixture.New(t)
	out, _, st := run(t, d, "cora", "whoami --json")
	var w WhoAmI
	if st != 0 || json.Unmarshal([]byte(out), &w) != nil {
		t.Fatalf("status %d, out %q", st, out)
	}
	if w.User != "cora" || len(w.Grants) != 5 || w.Grants[0].Org != fixture.Commissioner {
		t.Fatalf("whoami = %+v", w)
	}
}

func TestTimetableForEveryRole(t *testing.T) {
	d := fixture.New(t)
	for bundle, name := range fixture.Users {
		out, errs, st := run(t, d, name, "timetable --json")
		var rows []TimetableRow
		if st != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 || rows[0].Service != fixture.Service || rows[0].Status != domain.CollExtracted {
			t.Errorf("%s (%s): status %d, out %q, err %q", bundle, name, st, out, errs)
		}
	}
	out, _, st := run(t, d, "pat", "timetable --status scheduled")
	if st != 0 || !strings.Contains(out, "no collections") {
		t.Fatalf("filtered timetable: %d %q", st, out)
	}
	if _, errs, st := run(t, d, "pat", "timetable --service NOPE1"); st != StatusFailed || !strings.Contains(errs, "NOPE1") {
		t.Fatalf("unknown service: %d %q", st, errs)
	}
}

func TestAchievementOwnPracticeWithMoney(t *testing.T) {
	d := fixture.New(t)
	out, errs, st := run(t, d, "pat", "achievement --service QOF2526 --date 2026-03-31 --json")
	if st != 0 {
		t.Fatalf("status %d: %s", st, errs)
	}
	var a Achievement
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatal(err)
	}
	v := fixture.Values[fixture.PracticeA]
	if a.Practice != fixture.PracticeA || len(a.Indicators) != 2 || a.Indicators[1].Numerator != v[3] || a.Indicators[1].Denominator != v[2] {
		t.Fatalf("achievement = %+v", a)
	}
	// 241/290 = 83.10% >= upper 70%: full 12 points, paid with Finance View.
	if a.Indicators[1].Achievement != "83.10" || a.Points != "12.00" || a.Pence == nil || *a.Pence <= 0 {
		t.Fatalf("calculation: %+v pence %v", a.Indicators[1], a.Pence)
	}
	if a.Declaration == nil || a.Declaration.State != domain.DeclDeclared {
		t.Fatalf("declaration = %+v", a.Declaration)
	}
	// Text form names the figures too.
	out, _, st = run(t, d, "pat", "achievement --service QOF2526 --date 2026-03-31")
	if st != 0 || !strings.Contains(out, "AF006") || !strings.Contains(out, "83.10%") || !strings.Contains(out, "£") {
		t.Fatalf("text: %d %q", st, out)
	}
}

func TestMoneyHiddenWithoutFinanceView(t *testing.T) {
	d := fixture.New(t)
	out, errs, st := run(t, d, "sue", "achievement --service QOF2526 --date 2026-03-31 --practice A81002 --json")
	if st != 0 {
		t.Fatalf("support reads any practice's values: %d %s", st, errs)
	}
	if strings.Contains(out, "pence") || strings.Contains(out, "payment") {
		t.Fatalf("support (no Finance View) was shown money: %s", out)
	}
}

// A practice user reaches no other practice's values through any command.
func TestPracticeUserCannotReachAnotherPractice(t *testing.T) {
	d := fixture.New(t)
	other := fixture.Values[fixture.PracticeB]
	secret := strconv.FormatInt(other[3], 10) // practice B's numerator
	lines := []string{
		"achievement --service QOF2526 --date 2026-03-31 --practice A81002",
		"achievement --service QOF2526 --date 2026-03-31 --practice A81002 --json",
		"export --service QOF2526 --date 2026-03-31",
		"export --service QOF2526 --date 2026-03-31 --status all --json",
	}
	for _, line := range lines {
		out, errs, st := run(t, d, "pat", line)
		if st != StatusRefused {
			t.Errorf("%q: status %d, want %d (refused); out %q err %q", line, st, StatusRefused, out, errs)
		}
		if out != "" || strings.Contains(errs, secret) {
			t.Errorf("%q leaked output: out %q err %q", line, out, errs)
		}
		if !strings.Contains(errs, "may not") {
			t.Errorf("%q: refusal does not say why: %q", line, errs)
		}
	}
	for _, line := range []string{"queue --json", "timetable --json", "whoami --json"} {
		out, _, st := run(t, d, "pat", line)
		if st != 0 || strings.Contains(out, fixture.PracticeB) {
			t.Errorf("%q: status %d, shows %s: %s", line, st, fixture.PracticeB, out)
		}
	}
}

func TestQueueByRole(t *testing.T) {
	d := fixture.New(t)
	cases := map[string]domain.State{
		"cora": domain.DeclDeclared, // practice A declared: awaits the approver
		"finn": domain.DeclApproved, // practice B approved: awaits finance
	}
	for user, want := range cases {
		out, _, st := run(t, d, user, "queue --json")
		var items []ops.QueueItem
		if st != 0 || json.Unmarshal([]byte(out), &items) != nil {
			t.Fatalf("%s: %d %q", user, st, out)
		}
		if len(items) != 1 || items[0].State != want || !items[0].MoneyShown {
			t.Errorf("%s queue = %+v", user, items)
		}
	}
	// Practices, support and requesters approve nothing.
	for _, user := range []string{"pat", "sue", "rita"} {
		out, _, st := run(t, d, user, "queue --json")
		if st != 0 || strings.TrimSpace(out) != "[]" {
			t.Errorf("%s queue: %d %q", user, st, out)
		}
	}
}

func TestExportForRequester(t *testing.T) {
	d := fixture.New(t)
	out, errs, st := run(t, d, "rita", "export --service QOF2526 --date 2026-03-31")
	if st != 0 {
		t.Fatalf("%d %s", st, errs)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// Header plus practice B's five declared values (only B is approved).
	if len(rows) != 6 || strings.Join(rows[0], ",") != "QUALITY_SERVICE,ORG_CODE,ACH_DATE,IND_CODE,FIELD_NAME,VALUE" {
		t.Fatalf("rows %q", rows)
	}
	for _, r := range rows[1:] {
		if r[1] != fixture.PracticeB || r[2] != "2026-03-31" {
			t.Fatalf("row %q", r)
		}
	}
	out, _, st = run(t, d, "admin", "export --service QOF2526 --date 2026-03-31 --status all --json")
	var ex ExportJSON
	if st != 0 || json.Unmarshal([]byte(out), &ex) != nil || len(ex.Values) != 10 || ex.Practices != 2 || len(ex.Achievement) != 4 {
		t.Fatalf("admin export all: %d %q", st, out)
	}
	if _, errs, st := run(t, d, "cora", "export --service QOF2526 --date 2026-03-31"); st != StatusRefused {
		t.Fatalf("commissioner export: %d %q", st, errs)
	}
}

func FuzzRun(f *testing.F) {
	for _, s := range []string{
		"whoami", "timetable --json --service QOF2526", "achievement --service QOF2526 --date 2026-03-31 --practice A81002",
		"export --service QOF2526 --date 2026-03-31 --status all", "queue", "'a b' \"c\\\"\" d\\ e", "achievement --date=2026-02-30",
		"help", "-h", "timetable --status=extracted", "x 'unterminated",
	} {
		f.Add(s)
	}
	d := fixture.New(f)
	pat := d.User(f, "pat")
	f.Fuzz(func(t *testing.T, line string) {
		var out, errb bytes.Buffer
		st := Run(Env{Store: d.Store, User: pat, Out: &out, Err: &errb}, line)
		if st < 0 || st > StatusRefused {
			t.Fatalf("status %d", st)
		}
		if st != 0 && errb.Len() == 0 {
			t.Fatalf("%q: status %d without a message", line, st)
		}
		// Practice A's user is never shown practice B's figures.
		if strings.Contains(out.String(), fixture.PracticeB) {
			t.Fatalf("%q showed %s: %s", line, fixture.PracticeB, out.String())
		}
	})
}

// FuzzSplit: whatever arrives, Split either refuses it as a usage error or
// returns at most maxArgs words free of control characters; and quoting
// the words back gives the same words.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{"a b", "'a b' c", `"a \" b"`, `a\ b`, "", "'", `"`, `\`, "a\tb\nc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		words, err := Split(raw)
		if err != nil {
			if Status(err) != StatusUsage {
				t.Fatalf("%q: %v is not a usage error", raw, err)
			}
			return
		}
		if len(words) > maxArgs {
			t.Fatalf("%q: %d words", raw, len(words))
		}
		var quoted []string
		for _, w := range words {
			for _, c := range w {
				if c < 0x20 || c == 0x7f {
					t.Fatalf("%q: control character in %q", raw, w)
				}
			}
			quoted = append(quoted, "'"+strings.ReplaceAll(w, "'", `'\''`)+"'")
		}
		again, err := Split(strings.Join(quoted, " "))
		if err != nil || strings.Join(again, "\x00") != strings.Join(words, "\x00") || len(again) != len(words) {
			t.Fatalf("%q: words %q re-split as %q (%v)", raw, words, again, err)
		}
	})
}

// An item-of-service result is shown as counts and fees, not as a points
// table of dashes.
func TestItemOfServiceAchievementShowsCounts(t *testing.T) {
	pay := int64(420000)
	line := int64(420000)
	zero := int64(0)
	a := &Achievement{Service: "LDHC2526", Practice: "A81001", Pence: &pay, Indicators: []IndicatorSummary{
		{ID: "LDREG", Kind: domain.IndRegister, Register: 38, Payment: "£0.00", PaymentPence: &zero},
		{ID: "LDHC001", Kind: domain.IndCount, Count: 30, Payment: "£4,200.00", PaymentPence: &line},
	}}
	if !itemOfService(a) {
		t.Fatal("a result with a count indicator is item-of-service")
	}
	var out bytes.Buffer
	env := Env{Out: &out}
	if err := env.itemTable(newTable(&out), a); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"INDICATOR", "LDREG", "register", "38", "LDHC001", "count", "30", "£4,200.00", "total: £4,200.00"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	// Without Finance View no money column or total appears.
	out.Reset()
	a.Pence = nil
	if err := env.itemTable(newTable(&out), a); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "£") || strings.Contains(out.String(), "PAYMENT") {
		t.Errorf("money shown without Finance View:\n%s", out.String())
	}
}

// An administrator takes a hot backup over SSH: a consistent data file on
// stdout that passes gpc check; nobody else may.
func TestBackupStreamsACheckableDataFile(t *testing.T) {
	d := fixture.New(t)
	out, errText, st := run(t, d, "admin", "backup")
	if st != StatusOK || len(out) < 4096 {
		t.Fatalf("status %d, %d bytes, %s", st, len(out), errText)
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := store.Check(path, true)
	if err != nil || !rep.OK() {
		t.Fatalf("backup does not check: %v %v", err, rep)
	}
	for _, who := range []string{"pat", "cora", "sue"} {
		if _, e, st := run(t, d, who, "backup"); st != StatusRefused || !strings.Contains(e, "may not backup") {
			t.Errorf("%s: status %d, %s", who, st, e)
		}
	}
}

// An administrator runs the timetable over SSH while the server holds the
// data file: add, reschedule, cancel and reopen go through the same ops
// (one audited transaction each) as the command line, with text and JSON.
func TestTimetableChangesOverSSH(t *testing.T) {
	d := fixture.New(t)
	out, errs, st := run(t, d, "admin", "timetable add --service QOF2526 --ach 2025-12-31 --reason 'mid-year look' --json")
	var ch CollectionChange
	if st != 0 || json.Unmarshal([]byte(out), &ch) != nil || ch.Action != "added" || ch.Collection.Status != domain.CollScheduled ||
		ch.Collection.AchDate != domain.MustDate("2025-12-31") {
		t.Fatalf("add: status %d, out %q, err %q", st, out, errs)
	}
	id := strconv.FormatUint(ch.Collection.ID, 10)
	// The default timing put the declaration deadline somewhere; move it.
	out, errs, st = run(t, d, "admin", "timetable reschedule "+id+" --declare-by 2026-02-27 --reason 'practices asked'")
	if st != 0 || !strings.Contains(out, "rescheduled collection "+id+": QOF2526") || !strings.Contains(out, "declare by 2026-02-27") {
		t.Fatalf("reschedule: status %d, out %q, err %q", st, out, errs)
	}
	out, errs, st = run(t, d, "admin", "timetable cancel "+id+" --reason 'added by mistake'")
	if st != 0 || !strings.Contains(out, "cancelled collection "+id) || !strings.Contains(out, "is cancelled") {
		t.Fatalf("cancel: status %d, out %q, err %q", st, out, errs)
	}
	out, errs, st = run(t, d, "admin", "timetable reopen "+id)
	if st != 0 || !strings.Contains(out, "reopened collection "+id) || !strings.Contains(out, "is scheduled") {
		t.Fatalf("reopen: status %d, out %q, err %q", st, out, errs)
	}
	// Each change is audited with its reason.
	var audit []string
	if err := d.Store.View(func(tx *store.Tx) error {
		es, err := tx.AuditEntries(store.AuditFilter{Text: "collection " + id})
		for i := len(es) - 1; i >= 0; i-- { // oldest first
			audit = append(audit, es[i].Action+" "+es[i].After)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(audit) != 4 || !strings.HasPrefix(audit[0], "timetable.add") || !strings.Contains(audit[0], "mid-year look") ||
		!strings.HasPrefix(audit[1], "timetable.reschedule") || !strings.Contains(audit[1], "practices asked") ||
		!strings.HasPrefix(audit[2], "collection.cancel") || !strings.Contains(audit[2], "added by mistake") ||
		!strings.HasPrefix(audit[3], "collection.reopen") {
		t.Fatalf("audit: %q", audit)
	}
	// Nobody else may; bad input is a usage error that changes nothing.
	if _, errs, st := run(t, d, "pat", "timetable cancel "+id); st != StatusRefused || !strings.Contains(errs, "Timetable Administration") {
		t.Fatalf("practice user cancelling: %d %q", st, errs)
	}
	for _, line := range []string{"timetable cancel", "timetable cancel x1", "timetable frob", "timetable add --service QOF2526",
		"timetable add --service QOF2526 --ach 2026-13-01", "timetable reschedule " + id + " --pay-on soon"} {
		if _, errs, st := run(t, d, "admin", line); st != StatusUsage {
			t.Errorf("%q: status %d, err %q", line, st, errs)
		}
	}
	if _, errs, st := run(t, d, "admin", "timetable cancel 999"); st != StatusFailed || !strings.Contains(errs, "999") {
		t.Fatalf("unknown collection: %d %q", st, errs)
	}
}

// Payments run over SSH: the instruction CSV on stdout (exactly what the
// record says), the summary on stderr, and a second run pays nothing again.
func TestPaymentsRunOverSSH(t *testing.T) {
	d := fixture.New(t)
	// Practice B's approved declaration is financially approved and its
	// collection pays this month.
	if err := d.Store.Update(d.Admin, func(tx *store.Tx) error {
		c, err := tx.Collection(d.Collection)
		if err != nil {
			return err
		}
		c.DeclarationDeadline = domain.MustDate("2026-04-22")
		c.ApprovalDeadline = domain.MustDate("2026-04-24")
		c.PaymentDate = domain.MustDate("2026-04-30")
		return tx.PutCollection(c)
	}); err != nil {
		t.Fatal(err)
	}
	// The fixture's stored amount is made up, so the first decision
	// recalculates the declaration and sends it back to the practice; it is
	// then declared, approved and financially approved as seen.
	seen := func() string {
		var hash string
		if err := d.Store.View(func(tx *store.Tx) error {
			dec, err := tx.Declaration(d.Collection, fixture.PracticeB)
			if err == nil {
				hash = dec.InputsHash
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return hash
	}
	_ = ops.FinanceApprove(d.Store, d.User(t, "finn"), d.Collection, fixture.PracticeB, seen()) // refused: recalculates
	for _, step := range []struct {
		user string
		do   func(*store.Store, *domain.User, uint64, string, string) error
	}{{"pam", ops.Declare}, {"cora", ops.Approve}, {"finn", ops.FinanceApprove}} {
		if err := step.do(d.Store, d.User(t, step.user), d.Collection, fixture.PracticeB, seen()); err != nil {
			t.Fatalf("%s: %v", step.user, err)
		}
	}
	out, errs, st := run(t, d, "admin", "payments run --period 2026-04")
	if st != 0 || !strings.Contains(errs, "payment run 1 for 2026-04 paid 1 lines") {
		t.Fatalf("status %d, out %q, err %q", st, out, errs)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 2 || !contains(rows[1], fixture.PracticeB) {
		t.Fatalf("CSV %q: %v", out, err)
	}
	again, errs, st := run(t, d, "admin", "payments run --period 2026-04")
	if st != 0 || again != out || !strings.Contains(errs, "already run") || !strings.Contains(errs, "nothing paid now") {
		t.Fatalf("second run: status %d, err %q, same file %v", st, errs, again == out)
	}
	js, _, st := run(t, d, "admin", "payments run --period 2026-04 --json")
	var pj PaymentRunJSON
	if st != 0 || json.Unmarshal([]byte(js), &pj) != nil || !pj.Existing || len(pj.Run.Lines) != 1 || pj.Total != pj.Run.Lines[0].Amount {
		t.Fatalf("json: %d %q", st, js)
	}
	if _, errs, st := run(t, d, "finn", "payments run --period 2026-04"); st != StatusRefused {
		t.Fatalf("finance user running payments: %d %q", st, errs)
	}
	if _, errs, st := run(t, d, "admin", "payments run --period 2026-09"); st != StatusFailed || !strings.Contains(errs, "2026-09") {
		t.Fatalf("a month not begun: %d %q", st, errs)
	}
	for _, line := range []string{"payments", "payments run", "payments run --period April", "payments pay --period 2026-04"} {
		if _, errs, st := run(t, d, "admin", line); st != StatusUsage {
			t.Errorf("%q: status %d, err %q", line, st, errs)
		}
	}
}
