package ops

import (
	"errors"
	"strings"
	"testing"
	"time"

	"gpcollections/domain"
	"gpcollections/store"
)

func key(ind, field string) domain.FieldKey { return domain.FieldKey{Indicator: ind, Field: field} }

func (w *wf) manualEntry(c *domain.Collection, practice string) *domain.ManualEntry {
	w.t.Helper()
	var m *domain.ManualEntry
	w.must(w.s.View(func(tx *store.Tx) error {
		var err error
		m, err = tx.ManualEntry(c.ID, practice)
		return err
	}))
	return m
}

func (w *wf) setJob(c *domain.Collection, practice string, st domain.JobState) {
	w.t.Helper()
	w.must(w.s.Update(domain.SystemUser, func(tx *store.Tx) error {
		j, err := tx.Job(c.ID, practice)
		if errors.Is(err, store.ErrNotFound) {
			j = &domain.Job{Collection: c.ID, Practice: practice, Run: c.Run}
		} else if err != nil {
			return err
		}
		j.State = st
		return tx.PutJob(j)
	}))
}

func (w *wf) setStatus(c *domain.Collection, st domain.State) {
	w.t.Helper()
	w.must(w.s.Update(w.u("admin"), func(tx *store.Tx) error {
		cur, err := tx.Collection(c.ID)
		if err != nil {
			return err
		}
		cur.Status = st
		return tx.PutCollection(cur)
	}))
}

func TestManualDraftThenSubmitRecalculates(t *testing.T) {
	w := newWF(t)
	w.join("QOFT", "A81001")
	w.must(w.extract(w.qof, "A81001", 1, qofValues(200, 100, 90)...))
	before := w.decl(w.qof, "A81001")
	m, err := SaveManual(w.s, w.u("ann"), w.qof.ID, "A81001", map[domain.FieldKey]string{key("QI1", "REGISTER"): " 012 "}, false, 0)
	w.must(err)
	if m.State != domain.ManualDraft || len(m.Values) != 1 || m.Values[0].Value != 12 || m.UpdatedBy != "ann" {
		t.Fatalf("draft %+v", m)
	}
	if w.decl(w.qof, "A81001").Version != before.Version {
		t.Fatal("a draft changed the declaration")
	}
	// Stale form: someone saved since it was read.
	_, err = SaveManual(w.s, w.u("ann"), w.qof.ID, "A81001", map[domain.FieldKey]string{key("QI1", "REGISTER"): "13"}, true, 0)
	wantErr(t, err, store.ErrConflict)
	// The commissioner enters on the practice's behalf and submits.
	m, err = SaveManual(w.s, w.u("carl"), w.qof.ID, "A81001", map[domain.FieldKey]string{key("QI1", "REGISTER"): "13"}, true, m.Version)
	w.must(err)
	if m.State != domain.ManualSubmitted || m.UpdatedBy != "carl" {
		t.Fatalf("submitted %+v", m)
	}
	d := w.decl(w.qof, "A81001")
	if d.Points != "30.00" || !strings.Contains(d.Reason, "manual entry submitted by carl") {
		t.Fatalf("declaration after submit: %s points, reason %q", d.Points, d.Reason)
	}
	// A submitted entry is corrected by submitting, not by a draft.
	_, err = SaveManual(w.s, w.u("ann"), w.qof.ID, "A81001", map[domain.FieldKey]string{key("QI1", "REGISTER"): "14"}, false, m.Version)
	wantErr(t, err, nil, "was submitted; correct it by submitting")
	var audit []domain.AuditEntry
	w.must(w.s.View(func(tx *store.Tx) error {
		var err error
		audit, err = tx.AuditEntries(store.AuditFilter{Action: "manual."})
		return err
	}))
	if len(audit) != 2 || audit[0].User != "carl" || audit[0].Before != "QI1 REGISTER=12" || audit[0].After != "QI1 REGISTER=13" || audit[1].Before != "" {
		t.Fatalf("audit %+v", audit)
	}
}

func TestManualInvalidValuesSaveNothing(t *testing.T) {
	w := newWF(t)
	w.join("LDT", "A81001")
	w.must(w.extract(w.ld, "A81001", 1, fv("LDCHK", "COUNT", 30)))
	cases := []struct {
		values map[domain.FieldKey]string
		submit bool
		want   []string
	}{
		{map[domain.FieldKey]string{key("LDREG", "REGISTER"): "12.5"}, false, []string{"LDREG REGISTER", "not a whole number"}},
		{map[domain.FieldKey]string{key("LDREG", "REGISTER"): "-3"}, false, []string{"LDREG REGISTER", "negative"}},
		{map[domain.FieldKey]string{key("LDREG", "REGISTER"): "1,234"}, false, []string{"without separators"}},
		{map[domain.FieldKey]string{key("LDREG", "REGISTER"): "20"}, false, []string{"LDREG REGISTER: 20 is below LDCHK COUNT 30"}},
		{map[domain.FieldKey]string{key("LDCHK", "COUNT"): "30"}, false, []string{"LDCHK COUNT", "extracted automatically"}},
		{map[domain.FieldKey]string{key("XX1", "COUNT"): "3"}, false, []string{"XX1 COUNT", "not an indicator of service LDT"}},
		{map[domain.FieldKey]string{key("LDREG", "COUNT"): "3"}, false, []string{"LDREG COUNT", "not a field of LDREG"}},
		{map[domain.FieldKey]string{}, true, []string{"LDREG REGISTER: a value is required to submit"}},
		// Every problem at once, each named.
		{map[domain.FieldKey]string{key("LDREG", "REGISTER"): "x", key("LDCHK", "COUNT"): "1"}, false, []string{"LDCHK COUNT", "LDREG REGISTER"}},
	}
	for _, c := range cases {
		_, err := SaveManual(w.s, w.u("ann"), w.ld.ID, "A81001", c.values, c.submit, 0)
		wantErr(t, err, ErrInvalidManual, c.want...)
		var me ManualErrors
		if !errors.As(err, &me) || len(me) == 0 || me[0].Indicator == "" {
			t.Fatalf("%v: want ManualErrors naming fields", err)
		}
	}
	if m := w.manualEntry(w.ld, "A81001"); m.Version != 0 {
		t.Fatalf("an invalid entry was saved: %+v", m)
	}
}

func TestManualEntryOpensAfterTheExtract(t *testing.T) {
	w := newWF(t)
	w.join("QOFT", "A81001")
	w.setStatus(w.qof, domain.CollExtracting)
	v := map[domain.FieldKey]string{key("QI1", "REGISTER"): "5"}
	_, err := SaveManual(w.s, w.u("ann"), w.qof.ID, "A81001", v, false, 0)
	wantErr(t, err, ErrManualClosed, "opens after the automatic extract completes", "extracting")
	form, err := ManualFormFor(w.s, w.u("ann"), w.qof.ID, "A81001")
	w.must(err)
	if !strings.Contains(form.Closed, "opens after the automatic extract") || len(form.Fields) != 1 {
		t.Fatalf("form %+v", form)
	}

	// The practice's own extract failed: entry opens, automatic fields too.
	w.setJob(w.qof, "A81001", domain.JobFailed)
	form, err = ManualFormFor(w.s, w.u("ann"), w.qof.ID, "A81001")
	w.must(err)
	if form.Closed != "" || len(form.Fields) != 6 || !form.Fields[0].Automatic {
		t.Fatalf("form after failure: closed %q, %d fields", form.Closed, len(form.Fields))
	}
	vals := map[domain.FieldKey]string{key("QI1", "REGISTER"): "5", key("REG1", "REGISTER"): "200", key("ACH1", "REGISTER"): "200",
		key("ACH1", "DENOMINATOR"): "100", key("ACH1", "NUMERATOR"): "120"}
	_, err = SaveManual(w.s, w.u("ann"), w.qof.ID, "A81001", vals, true, 0)
	wantErr(t, err, ErrInvalidManual, "ACH1 NUMERATOR: 120 is above the denominator 100")
	vals[key("ACH1", "NUMERATOR")] = "60"
	_, err = SaveManual(w.s, w.u("ann"), w.qof.ID, "A81001", vals, true, 0)
	w.must(err)
	d := w.decl(w.qof, "A81001")
	if d.Points != "20.00" { // ACH1 10 + QI1 10
		t.Fatalf("points from keyed-in values %s", d.Points)
	}
	// A successful re-run: the extract is the source again for automatic fields.
	w.setJob(w.qof, "A81001", domain.JobSucceeded)
	w.must(w.extract(w.qof, "A81001", 2, qofValues(200, 100, 90)...))
	if d := w.decl(w.qof, "A81001"); d.Points != "30.00" {
		t.Fatalf("points after the successful re-run %s", d.Points)
	}
}

func TestManualEntryClosesAtTheDeadlineInEngland(t *testing.T) {
	w := newWF(t)
	w.join("QOFT", "A81001")
	v := map[domain.FieldKey]string{key("QI1", "REGISTER"): "5"}
	w.clock.set(time.Date(2026, 4, 24, 22, 59, 59, 0, time.UTC)) // 23:59:59 BST on the deadline
	m, err := SaveManual(w.s, w.u("ann"), w.qof.ID, "A81001", v, false, 0)
	w.must(err)
	w.clock.set(time.Date(2026, 4, 24, 23, 0, 0, 0, time.UTC)) // midnight BST
	_, err = SaveManual(w.s, w.u("ann"), w.qof.ID, "A81001", v, true, m.Version)
	wantErr(t, err, ErrDeadline, "declaration deadline was 2026-04-24")
	if !errors.Is(err, ErrManualClosed) {
		t.Fatalf("%v: want it to be ErrManualClosed too", err)
	}
}

func TestManualEntryRefusedForOthers(t *testing.T) {
	w := newWF(t)
	w.join("QOFT", "A81001")
	v := map[domain.FieldKey]string{key("QI1", "REGISTER"): "5"}
	var den *domain.Denied
	for _, who := range []string{"bob", "xav", "fin", "support", "req"} {
		if _, err := SaveManual(w.s, w.u(who), w.qof.ID, "A81001", v, false, 0); !errors.As(err, &den) {
			t.Errorf("%s entered for A81001: %v", who, err)
		}
	}
	if _, err := SaveManual(w.s, domain.SystemUser, w.qof.ID, "A81001", v, false, 0); !errors.As(err, &den) {
		t.Errorf("the system entered values: %v", err)
	}
	// Not taking part.
	_, err := SaveManual(w.s, w.u("bob"), w.qof.ID, "A81002", v, false, 0)
	wantErr(t, err, ErrNotParticipating)
}

// A practice whose extract failed declares keyed-in values; an
// administrator then retries its extraction. Until the retry produces a
// result the keyed-in values are still the practice's figures: the
// declaration does not lag, and the commissioner can approve it.
func TestKeyedInFiguresStandWhileARetryIsQueued(t *testing.T) {
	w := newWF(t)
	w.join("QOFT", "A81001")
	w.setJob(w.qof, "A81001", domain.JobFailed)
	vals := map[domain.FieldKey]string{key("QI1", "REGISTER"): "5", key("REG1", "REGISTER"): "200", key("ACH1", "REGISTER"): "200",
		key("ACH1", "DENOMINATOR"): "100", key("ACH1", "NUMERATOR"): "60"}
	_, err := SaveManual(w.s, w.u("ann"), w.qof.ID, "A81001", vals, true, 0)
	w.must(err)
	d := w.decl(w.qof, "A81001")
	w.must(Declare(w.s, w.u("ann"), w.qof.ID, "A81001", d.InputsHash))
	for _, st := range []domain.JobState{domain.JobQueued, domain.JobRunning} {
		w.setJob(w.qof, "A81001", st)
		w.must(w.s.View(func(tx *store.Tx) error {
			f, err := CurrentFigures(tx, w.qof, "A81001")
			if err != nil {
				return err
			}
			if f.Hash != d.InputsHash || PointsText(f.Result) != "20.00" {
				t.Fatalf("job %s: the figures became %s points (values %v); the keyed-in ones were dropped", st, PointsText(f.Result), f.Values)
			}
			return nil
		}))
	}
	w.must(Approve(w.s, w.u("carl"), w.qof.ID, "A81001", w.decl(w.qof, "A81001").DeclaredHash))
}

// An administrator retries the failed extract of a practice that had
// started keying in its figures. The retry, queued or running, has no
// figures yet and the keyed-in values are still what the declaration is
// calculated from (mergedInputs), so the form keeps offering the extracted
// fields with what was typed, says why, and saves them. Once the retry
// succeeds the extract is the source again and the form shrinks back to
// the manual fields; what was typed stays on record.
func TestRetryPendingKeepsKeyedInFieldsOnTheForm(t *testing.T) {
	w := newWF(t)
	w.join("QOFT", "A81001")
	w.setJob(w.qof, "A81001", domain.JobFailed)
	form, err := ManualFormFor(w.s, w.u("ann"), w.qof.ID, "A81001")
	w.must(err)
	if form.Auto != AutoFailed || !strings.Contains(form.Note, "extract failed") {
		t.Fatalf("failed extract: auto %q, note %q", form.Auto, form.Note)
	}
	m, err := SaveManual(w.s, w.u("ann"), w.qof.ID, "A81001", map[domain.FieldKey]string{key("REG1", "REGISTER"): "200",
		key("ACH1", "DENOMINATOR"): "100"}, false, 0)
	w.must(err)
	for st, want := range map[domain.JobState]AutoEntry{domain.JobQueued: AutoRetryQueued, domain.JobRunning: AutoRetryRunning} {
		w.setJob(w.qof, "A81001", st)
		form, err := ManualFormFor(w.s, w.u("ann"), w.qof.ID, "A81001")
		w.must(err)
		if form.Closed != "" || len(form.Fields) != 6 {
			t.Fatalf("retry %s: closed %q, %d fields; the keyed-in fields left the form", st, form.Closed, len(form.Fields))
		}
		entered := map[domain.FieldKey]int64{}
		for _, f := range form.Fields {
			if f.Entered != nil {
				entered[key(f.Indicator, f.Field)] = *f.Entered
			}
		}
		if entered[key("REG1", "REGISTER")] != 200 || entered[key("ACH1", "DENOMINATOR")] != 100 {
			t.Fatalf("retry %s: the form lost the keyed-in values: %v", st, entered)
		}
		if form.Auto != want || !strings.Contains(form.Note, "retry") || !strings.Contains(form.Note, string(st)) {
			t.Fatalf("retry %s: auto %q, note %q", st, form.Auto, form.Note)
		}
	}
	m, err = SaveManual(w.s, w.u("ann"), w.qof.ID, "A81001", map[domain.FieldKey]string{key("ACH1", "NUMERATOR"): "60"}, false, m.Version)
	w.must(err)
	if len(m.Values) != 3 {
		t.Fatalf("saving during the retry kept %v", m.Values)
	}
	// The retry succeeds: the extract is the source again.
	w.setJob(w.qof, "A81001", domain.JobSucceeded)
	w.must(w.extract(w.qof, "A81001", 1, qofValues(200, 100, 90)...))
	form, err = ManualFormFor(w.s, w.u("ann"), w.qof.ID, "A81001")
	w.must(err)
	if form.Auto != AutoNone || form.Note != "" || len(form.Fields) != 1 || len(form.Entry.Values) != 3 {
		t.Fatalf("after a successful retry: auto %q, note %q, %d fields, entry %v", form.Auto, form.Note, len(form.Fields), form.Entry.Values)
	}
	// A first extraction still queued opens nothing.
	w.setStatus(w.ld, domain.CollExtracting)
	w.join("LDT", "A81001")
	w.setJob(w.ld, "A81001", domain.JobQueued)
	form, err = ManualFormFor(w.s, w.u("ann"), w.ld.ID, "A81001")
	w.must(err)
	if form.Auto != AutoNone || !strings.Contains(form.Closed, "opens after the automatic extract") {
		t.Fatalf("first extraction queued: auto %q, closed %q", form.Auto, form.Closed)
	}
}
