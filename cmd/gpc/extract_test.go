package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gpcollections/domain"
)

func TestGenerateThenExtract(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "src")
	out := mustGPC(t, "generate", "--practice", "A81001", "--patients", "1500", "--seed", "9", "--out", dir)
	if !strings.Contains(out, "wrote 1500 patients") {
		t.Fatalf("generate said %q", out)
	}
	for _, f := range []string{"Patient", "EpisodeOfCare", "Condition", "Observation", "Immunization"} {
		if st, err := os.Stat(filepath.Join(dir, f+".ndjson")); err != nil || st.Size() == 0 {
			t.Errorf("%s.ndjson missing or empty: %v", f, err)
		}
	}
	csvOut := mustGPC(t, "extract", "--source", dir, "--service", "QOF2526", "--date", "2026-03-31")
	lines := strings.Split(strings.TrimSpace(csvOut), "\n")
	var header string
	for i, l := range lines {
		if strings.HasPrefix(l, "QUALITY_SERVICE,") {
			header, lines = l, lines[i+1:]
			break
		}
	}
	if header != "QUALITY_SERVICE,ORG_CODE,ACH_DATE,IND_CODE,FIELD_NAME,VALUE" {
		t.Fatalf("no CSV header in:\n%s", csvOut)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		f := strings.Split(l, ",")
		if len(f) != 6 || f[0] != "QOF2526" || f[1] != "A81001" || f[2] != "2026-03-31" {
			t.Fatalf("bad row %q", l)
		}
		seen[f[3]+"/"+f[4]] = true
	}
	for _, k := range []string{"DM017/REGISTER", "DM020/DENOMINATOR", "DM020/NUMERATOR", "DM020/MDSEVFRAIL", "VI001/NUMERATOR"} {
		if !seen[k] {
			t.Errorf("row %s missing", k)
		}
	}
	if !strings.Contains(csvOut, "0 bad lines skipped") {
		t.Errorf("bad-line count not reported:\n%s", csvOut[:200])
	}

	jsonOut := mustGPC(t, "extract", "--source", dir, "--service", "FLU2526", "--date", "2025-10-31", "--format", "json")
	var rows []domain.IndicatorValue
	if err := json.Unmarshal([]byte(jsonOut[strings.Index(jsonOut, "["):]), &rows); err != nil {
		t.Fatalf("json: %v", err)
	}
	if len(rows) == 0 || rows[0].Service != "FLU2526" {
		t.Fatalf("json rows %v", rows)
	}

	ex := mustGPC(t, "extract", "--source", dir, "--explain", "A81001-0000003")
	if !strings.Contains(ex, "Patient A81001-0000003") || !strings.Contains(ex, "DM020") {
		t.Errorf("explain output:\n%s", ex)
	}
	if _, err := gpc(t, "extract", "--source", dir, "--explain", "NOBODY"); err == nil {
		t.Error("explaining an unknown patient succeeded")
	}
}

func TestExtractReportsBadLines(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "src")
	mustGPC(t, "generate", "--patients", "50", "--out", dir)
	f, err := os.OpenFile(filepath.Join(dir, "Observation.ndjson"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("{not json\n")
	f.Close()
	out := mustGPC(t, "extract", "--source", dir)
	if !strings.Contains(out, "1 bad lines skipped") || !strings.Contains(out, "Observation.ndjson") {
		t.Errorf("bad line not reported:\n%s", out[:300])
	}
	if _, err := gpc(t, "extract", "--source", dir, "--strict"); err == nil || !strings.Contains(err.Error(), "Observation.ndjson") {
		t.Errorf("--strict did not stop at the bad line: %v", err)
	}
}

func TestRulesCheck(t *testing.T) {
	out := mustGPC(t, "rules", "check", "../../domain/rulesets/files/QOF2526")
	if !strings.Contains(out, "ok: service QOF2526") || strings.Contains(out, "warning") {
		t.Errorf("check said %q", out)
	}
	// The sample cluster file has no verified LD health check concept: the
	// check passes and says what that silences.
	out = mustGPC(t, "rules", "check", "../../domain/rulesets/files/LDHC2526")
	if !strings.Contains(out, "ok: service LDHC2526") ||
		!strings.Contains(out, "warning: cluster HLTHCHK_COD has no member codes in the cluster file: fields HCQTR, HCEARLIER never match; affects LDHC001") {
		t.Errorf("check said %q", out)
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "clusters.csv"), []byte("cluster_id,refset_id,concept_id,description\nDM_COD,1,44054006,Diabetes\n"), 0o644)
	os.WriteFile(filepath.Join(bad, "x.rules"), []byte("service X1\n  period 2025-04-01 to 2026-03-31\n  frequency annual\n  kind points\nend\nfield A = last NOPE_COD\n"), 0o644)
	out, err := gpc(t, "rules", "check", bad)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("want exit status 2, got %v", err)
	}
	if !strings.Contains(out, "x.rules:6: unknown cluster NOPE_COD") {
		t.Errorf("check output %q", out)
	}
}

func TestBenchExtractSmall(t *testing.T) {
	out := mustGPC(t, "bench", "extract", "--sizes", "400,800", "--practice-size", "400", "--import-max", "400")
	for _, want := range []string{"patients", "import MB/s", "eval patients/s", "NDJSON", "generator", "peak B/event", "held B/event"} {
		if !strings.Contains(out, want) {
			t.Errorf("bench table lacks %q:\n%s", want, out)
		}
	}
}

// A deployment whose cluster file has learning disability health check
// codes generates practices with health checks (--clusters) and counts
// them with its rule directory (--rules); the shipped sample counts 0 and
// says why.
func TestGenerateWithAClusterFileThatHasHealthCheckCodes(t *testing.T) {
	dir := t.TempDir()
	sample, err := os.ReadFile("../../domain/rulesets/files/clusters.csv")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(sample), "\n") {
		if strings.HasPrefix(l, "HLTHCHK_COD,") {
			l = "HLTHCHK_COD,999015851000230100,990000000000000001,TEST ONLY health check concept"
		}
		lines = append(lines, l)
	}
	rulesDir := filepath.Join(dir, "LDHC2526")
	os.MkdirAll(rulesDir, 0o755)
	cl := filepath.Join(rulesDir, "clusters.csv")
	os.WriteFile(cl, []byte(strings.Join(lines, "\n")), 0o644)
	ldhc, _ := os.ReadFile("../../domain/rulesets/files/LDHC2526/ldhc.rules")
	os.WriteFile(filepath.Join(rulesDir, "ldhc.rules"), ldhc, 0o644)

	src := filepath.Join(dir, "src")
	mustGPC(t, "generate", "--patients", "5000", "--seed", "1", "--date", "2025-09-30", "--clusters", cl, "--out", src)
	out := mustGPC(t, "extract", "--source", src, "--service", "LDHC2526", "--date", "2025-09-30", "--rules", rulesDir)
	n := -1
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "LDHC2526,A81001,2025-09-30,LDHC001,COUNT,") {
			n, _ = strconv.Atoi(strings.TrimPrefix(l, "LDHC2526,A81001,2025-09-30,LDHC001,COUNT,"))
		}
	}
	if n <= 0 {
		t.Fatalf("LDHC001 with health check codes loaded: %d\n%s", n, out)
	}
	out = mustGPC(t, "extract", "--source", src, "--service", "LDHC2526", "--date", "2025-09-30")
	if !strings.Contains(out, "LDHC001,COUNT,0") {
		t.Fatalf("the sample counted health checks:\n%s", out)
	}
	if _, err := gpc(t, "generate", "--patients", "5", "--clusters", filepath.Join(dir, "nope.csv"), "--out", filepath.Join(dir, "x")); err == nil || !strings.Contains(err.Error(), "--clusters") {
		t.Fatalf("a missing cluster file: %v", err)
	}
}
