package ops

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"gpcollections/domain"
)

func TestExportApprovedOnlyVersusAll(t *testing.T) {
	w := newWF(t)
	d := w.declared() // A81001 declared, not yet approved
	w.join("QOFT", "A81002")
	w.must(w.extract(w.qof, "A81002", 1, qofValues(100, 50, 30)...))
	// B82001 does not take part: its result is never exported.
	w.must(w.extract(w.qof, "B82001", 1, qofValues(10, 10, 10)...))

	ex, err := ExportCollection(w.s, w.u("req"), "QOFT", w.qof.AchDate, ExportApproved)
	w.must(err)
	if ex.Practices != 0 || len(ex.Values) != 0 {
		t.Fatalf("approved export before any approval: %+v", ex)
	}
	w.must(Approve(w.s, w.u("carl"), w.qof.ID, "A81001", d.DeclaredHash))
	ex, err = ExportCollection(w.s, w.u("req"), "QOFT", w.qof.AchDate, ExportApproved)
	w.must(err)
	var vals, ach bytes.Buffer
	w.must(WriteValuesCSV(&vals, ex.Values))
	w.must(WriteAchievementCSV(&ach, ex.Achievement))
	wantVals := `QUALITY_SERVICE,ORG_CODE,ACH_DATE,IND_CODE,FIELD_NAME,VALUE
QOFT,A81001,2026-03-31,ACH1,DENOMINATOR,100
QOFT,A81001,2026-03-31,ACH1,NUMERATOR,90
QOFT,A81001,2026-03-31,ACH1,PCADEC,1
QOFT,A81001,2026-03-31,ACH1,REGISTER,200
QOFT,A81001,2026-03-31,QI1,REGISTER,12
QOFT,A81001,2026-03-31,REG1,REGISTER,200
`
	if vals.String() != wantVals {
		t.Fatalf("values file:\n%s\nwant:\n%s", vals.String(), wantVals)
	}
	wantAch := `QUALITY_SERVICE,ORG_CODE,ACH_DATE,IND_CODE,REGISTER,DENOMINATOR,NUMERATOR,ACHIEVEMENT_PCT,POINTS,MAX_POINTS,DECLARATION_STATUS
QOFT,A81001,2026-03-31,REG1,200,,,,0.00,0,approved
QOFT,A81001,2026-03-31,ACH1,200,100,90,90.00,20.00,20,approved
QOFT,A81001,2026-03-31,QI1,12,,,,10.00,10,approved
`
	if ach.String() != wantAch {
		t.Fatalf("achievement file:\n%s\nwant:\n%s", ach.String(), wantAch)
	}

	// All: both participating practices, A81002 undeclared, no B82001.
	ex, err = ExportCollection(w.s, w.u("support"), "QOFT", w.qof.AchDate, ExportAll)
	w.must(err)
	if ex.Practices != 2 || len(ex.Values) != 11 {
		t.Fatalf("all: %d practices, %d values", ex.Practices, len(ex.Values))
	}
	for _, v := range ex.Values {
		if v.Practice == "B82001" {
			t.Fatal("a practice not taking part was exported")
		}
	}
	var a2 []AchievementRow
	for _, r := range ex.Achievement {
		if r.Practice == "A81002" {
			a2 = append(a2, r)
		}
	}
	if len(a2) != 3 || a2[1].Achievement != "60.00" || a2[1].Points != "10.00" || a2[1].Status != "calculated" || a2[2].Register != "" {
		t.Fatalf("A81002 achievement %+v", a2)
	}
}

func TestExportAuthorizedForTheRequesterAndNationalView(t *testing.T) {
	w := newWF(t)
	var den *domain.Denied
	for _, who := range []string{"other", "carl", "ann", "fin"} {
		if _, err := ExportCollection(w.s, w.u(who), "QOFT", w.qof.AchDate, ExportAll); !errors.As(err, &den) {
			t.Errorf("%s exported QOFT: %v", who, err)
		}
	}
	for _, who := range []string{"req", "support", "admin"} {
		if _, err := ExportCollection(w.s, w.u(who), "QOFT", w.qof.AchDate, ExportAll); err != nil {
			t.Errorf("%s could not export: %v", who, err)
		}
	}
	_, err := ExportCollection(w.s, w.u("req"), "QOFT", w.qof.AchDate, "declared")
	wantErr(t, err, nil, `export status "declared"`)
	_, err = ExportCollection(w.s, w.u("req"), "QOFT", domain.MustDate("2026-02-28"), ExportAll)
	if err == nil || !strings.Contains(err.Error(), "QOFT 2026-02-28") {
		t.Fatalf("unknown collection: %v", err)
	}
}
