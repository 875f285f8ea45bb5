package fhir

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
)

func lines(ls ...string) []byte { return []byte(strings.Join(ls, "\n") + "\n") }

const patientP1 = `{"resourceType":"Patient","id":"p1","birthDate":"1960-02-29","gender":"male"}`

// Resources as a clinical system exports them: meta, text, extensions,
// several codings, escapes, dateTimes with zones, CRLF line ends.
func TestReadUnderstandsUKCoreResources(t *testing.T) {
	src := memSource{
		"Patient": lines(
			`{"resourceType":"Patient","id":"p1","meta":{"profile":["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"]},`+
				`"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Jo \u00e9 Bloggs</div>"},`+
				`"extension":[{"url":"x","valueCodeableConcept":{"coding":[{"system":"y","code":"z"}]}}],`+
				`"identifier":[{"system":"https://example.org/local","value":"L1"},{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000009","extension":[]}],`+
				`"name":[{"family":"Bloggs","given":["Jo"]}],"gender":"female","birthDate":"1960-02-29","deceasedDateTime":"2025-03-01T23:30:00+01:00"}`,
			"   ",
			"{\"resourceType\":\"Patient\",\"id\":\"p\\u0032\",\"birthDate\":\"2001-01-01\",\"deceasedBoolean\":false}\r",
		),
		"EpisodeOfCare": lines(
			`{"resourceType":"EpisodeOfCare","id":"e1","status":"active","type":[{"coding":[{"system":"s","code":"regular","display":"Regular"}]},{"coding":[{"code":"x"}]}],` +
				`"patient":{"reference":"Patient/p1","display":"Jo"},"managingOrganization":{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"A81001"}},` +
				`"period":{"start":"2010-05-01T09:00:00Z"}}`,
		),
		"Condition": lines(
			`{"resourceType":"Condition","id":"c1","clinicalStatus":{"coding":[{"code":"active"}]},"code":{"coding":[{"system":"http://read.info/ctv3","code":"C10.."},{"system":"http://snomed.info/sct","code":"44054006","display":"Diabetes mellitus type 2"}],"text":"T2DM"},`+
				`"subject":{"reference":"Patient/p1"},"recordedDate":"2015-07-01"}`,
			`{"resourceType":"Condition","id":"c2","code":{"coding":[{"system":"http://snomed.info/sct","code":"38341003"}]},"subject":{"reference":"Patient/p2"},"onsetDateTime":"2019-01-02T00:15:00-05:00","recordedDate":"2019-02-02"}`,
		),
		"Observation": lines(
			`{"resourceType":"Observation","id":"o1","status":"final","category":[{"coding":[{"code":"vital-signs"}]}],"code":{"coding":[{"system":"http://snomed.info/sct","code":"75367002"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-11-05T10:00:00.123Z",`+
				`"component":[{"code":{"coding":[{"system":"http://snomed.info/sct","code":"271650006"}]},"valueQuantity":{"value":81,"unit":"mm[Hg]","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},`+
				`{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"},{"system":"http://snomed.info/sct","code":"271649006"}]},"valueQuantity":{"value":1.35e2,"unit":"mm[Hg]"}}]}`,
			`{"resourceType":"Observation","id":"o2","status":"final","code":{"coding":[{"system":"http://snomed.info/sct","code":"1049301000000100"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-11-05","valueQuantity":{"value":-0.5,"unit":"mmol/mol"}}`,
			`{"resourceType":"Observation","id":"o3","status":"final","code":{"coding":[{"system":"http://snomed.info/sct","code":"77176002"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2024-11-05","valueCodeableConcept":{"coding":[{"code":"y"}]}}`,
		),
		"Immunization": lines(
			`{"resourceType":"Immunization","id":"i1","status":"completed","vaccineCode":{"coding":[{"system":"https://dmd.nhs.uk","code":"39114911000001105"},{"system":"http://snomed.info/sct","code":"955691000000108"}]},"patient":{"reference":"Patient/p1"},"occurrenceDateTime":"2024-10-01"}`,
		),
		"MedicationStatement": lines(
			`{"resourceType":"MedicationStatement","id":"m1","status":"active","medicationCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"325072002"},{"system":"https://dmd.nhs.uk","code":"39109611000001107"}]},"subject":{"reference":"Patient/p1"},"dateAsserted":"2023-03-03"}`,
		),
	}
	got, st := readSource(t, src, Options{Practice: "A81001", Strict: true})
	p1 := clinical.Patient{ID: "p1", NHSNumber: "9000000009", Birth: d("1960-02-29"), Death: d("2025-03-01"), Sex: clinical.SexFemale,
		Regs: []clinical.Registration{{Practice: "A81001", Start: d("2010-05-01"), End: domain.NoDate, Type: "regular"}},
		Events: []clinical.Event{
			{Date: d("2015-07-01"), Code: 44054006, Kind: clinical.KindCondition},
			{Date: d("2023-03-03"), Code: 325072002, Kind: clinical.KindMedication},
			{Date: d("2024-10-01"), Code: 39114911000001105, Kind: clinical.KindImmunisation},
			{Date: d("2024-11-05"), Code: 75367002, Kind: clinical.KindObservation, NVal: 2, V1: 135, V2: 81, Unit: "mm[Hg]"},
			{Date: d("2024-11-05"), Code: 1049301000000100, Kind: clinical.KindObservation, NVal: 1, V1: -0.5, Unit: "mmol/mol"},
			{Date: d("2024-11-05"), Code: 77176002, Kind: clinical.KindObservation},
		}}
	p2 := clinical.Patient{ID: "p2", Birth: d("2001-01-01"), Death: domain.NoDate,
		Events: []clinical.Event{{Date: d("2019-01-02"), Code: 38341003, Kind: clinical.KindCondition}}}
	for i := range p1.Events {
		p1.Events[i].Seq = uint32(i)
	}
	want := expectBatch(t, "A81001", []clinical.Patient{p1, p2})
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%+v\n%+v\nwant\n%+v\n%+v", got.Record(0), got.Record(1), want.Record(0), want.Record(1))
	}
	if st.Lines != 10 || st.Resources != 10 {
		t.Errorf("stats %+v", st)
	}
}

// Each bad line is reported with its file, line number and resource id,
// skipped by default, and stops a strict import.
func TestBadLinesAreReportedWithFileLineAndID(t *testing.T) {
	obs := func(id, rest string) string {
		return `{"resourceType":"Observation","id":"` + id + `","subject":{"reference":"Patient/p1"}` + rest + `}`
	}
	good := obs("ok", `,"code":{"coding":[{"system":"http://snomed.info/sct","code":"60621009"}]},"effectiveDateTime":"2020-01-01"`)
	code := `,"code":{"coding":[{"system":"http://snomed.info/sct","code":"60621009"}]}`
	cases := []struct {
		name, line, id, msg string
	}{
		{"malformed", `{"resourceType":"Observation","id":"x1",`, "Observation/x1", "malformed JSON"},
		{"not an object", `[1,2]`, "", "the line is not an object"},
		{"trailing data", good + `}`, "Observation/ok", "data after the resource"},
		{"no id", `{"resourceType":"Observation"}`, "", "no id"},
		{"wrong type", `{"resourceType":"Condition","id":"c1"}`, "Observation/c1", `resourceType "Condition" in Observation.ndjson`},
		{"no date", obs("x2", code), "Observation/x2", "no effectiveDateTime"},
		{"bad date", obs("x3", code+`,"effectiveDateTime":"2021-02-29"`), "Observation/x3", `effectiveDateTime "2021-02-29" is not a valid date`},
		{"partial date", obs("x4", code+`,"effectiveDateTime":"2021-02"`), "Observation/x4", "partial date"},
		{"bad time", obs("x5", code+`,"effectiveDateTime":"2021-02-01T25:00:00Z"`), "Observation/x5", "not a valid date"},
		{"no code", obs("x6", `,"effectiveDateTime":"2020-01-01"`), "Observation/x6", "no code"},
		{"no snomed", obs("x7", `,"code":{"coding":[{"system":"http://loinc.org","code":"1-8"}]},"effectiveDateTime":"2020-01-01"`), "Observation/x7", "code has no SNOMED CT coding"},
		{"code not an id", obs("x8", `,"code":{"coding":[{"system":"http://snomed.info/sct","code":"12x456"}]},"effectiveDateTime":"2020-01-01"`), "Observation/x8", "not a SNOMED CT or dm+d id"},
		{"value not a number", obs("x9", code+`,"effectiveDateTime":"2020-01-01","valueQuantity":{"value":"7"}`), "Observation/x9", "valueQuantity.value is not a number"},
		{"value missing", obs("x10", code+`,"effectiveDateTime":"2020-01-01","valueQuantity":{"unit":"kg"}`), "Observation/x10", "valueQuantity.value is missing"},
		{"value too big", obs("x11", code+`,"effectiveDateTime":"2020-01-01","valueQuantity":{"value":1e39}`), "Observation/x11", "out of range"},
		{"unknown patient", `{"resourceType":"Observation","id":"x12","subject":{"reference":"Patient/nobody"}}`, "Observation/x12", `"Patient/nobody": no such patient in Patient.ndjson`},
		{"bad reference", `{"resourceType":"Observation","id":"x13","subject":{"reference":"Group/g"}}`, "Observation/x13", "is not Patient/<id>"},
		{"diastolic only", obs("x14", code+`,"effectiveDateTime":"2020-01-01","component":[{"code":{"coding":[{"system":"http://snomed.info/sct","code":"271650006"}]},"valueQuantity":{"value":80}}]`), "Observation/x14", "diastolic component without a systolic"},
		{"value and components", obs("x15", code+`,"effectiveDateTime":"2020-01-01","valueQuantity":{"value":1},"component":[{"code":{"coding":[{"system":"http://snomed.info/sct","code":"271649006"}]},"valueQuantity":{"value":80}}]`), "Observation/x15", "both valueQuantity"},
		{"bad escape", `{"resourceType":"Observation","id":"x16","note":"\q"}`, "Observation/x16", "bad escape"},
		{"deep nesting", `{"resourceType":"Observation","id":"x17","x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, "Observation/x17", "nested more than"},
		{"id not a string", `{"resourceType":"Observation","id":7}`, "", "id is not a string"},
		{"bad number", obs("x18", code+`,"effectiveDateTime":"2020-01-01","valueQuantity":{"value":01}`), "Observation/x18", "bad number"},
	}
	var all []string
	for _, c := range cases {
		all = append(all, c.line)
	}
	all = append(all, good)
	src := memSource{"Patient": lines(patientP1), "Observation": lines(all...)}

	b, st, err := Read(src.open, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Bad != len(cases) || st.Resources != 2 || st.Lines != len(cases)+2 || len(b.Events) != 1 {
		t.Errorf("stats %+v, %d events", st, len(b.Events))
	}
	if len(st.Errors) != MaxErrors {
		t.Fatalf("kept %d errors, want the first %d", len(st.Errors), MaxErrors)
	}
	for i, e := range st.Errors {
		c := cases[i]
		if e.File != "Observation.ndjson" || e.Line != i+1 || e.ResourceID != c.id || !strings.Contains(e.Msg, c.msg) {
			t.Errorf("%s: got %+v (%v), want line %d id %q msg containing %q", c.name, e, e, i+1, c.id, c.msg)
		}
	}
	if got := st.Errors[8].Error(); got != `Observation.ndjson:9 (Observation/x5): effectiveDateTime "2021-02-01T25:00:00Z" is not a valid date or dateTime` {
		t.Errorf("message %q", got)
	}

	// Strict stops at the first bad line, whichever it is.
	for i, c := range cases {
		src := memSource{"Patient": lines(patientP1), "Observation": lines(good, c.line, good)}
		_, _, err := Read(src.open, Options{Strict: true})
		var le LineError
		if !errors.As(err, &le) || le.Line != 2 || !strings.Contains(le.Msg, c.msg) {
			t.Errorf("strict %d %s: %v", i, c.name, err)
		}
	}
}

func TestBadPatientsAndRegistrations(t *testing.T) {
	src := memSource{
		"Patient": lines(
			patientP1,
			`{"resourceType":"Patient","id":"p2","gender":"male"}`,
			`{"resourceType":"Patient","id":"p3","birthDate":"2000-01-01","gender":"M"}`,
			`{"resourceType":"Patient","id":"p4","birthDate":"2000-01-01","deceasedBoolean":true}`,
			`{"resourceType":"Patient","id":"p5","birthDate":"2000-01-01","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"900 000 0009"}]}`,
			`{"resourceType":"Patient","id":"p1","birthDate":"1999-01-01"}`,
			`{"resourceType":"Patient","id":"p6","birthDate":"2000-01-01","deceasedDateTime":"1999-01-01"}`,
		),
		"EpisodeOfCare": lines(
			`{"resourceType":"EpisodeOfCare","id":"e1","patient":{"reference":"Patient/p1"},"period":{"start":"2001-01-01"}}`,
			`{"resourceType":"EpisodeOfCare","id":"e2","patient":{"reference":"Patient/p1"},"managingOrganization":{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"A81001"}}}`,
			`{"resourceType":"EpisodeOfCare","id":"e3","patient":{"reference":"Patient/p1"},"managingOrganization":{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"A81001"}},"period":{"start":"2001-01-01","end":"2000-01-01"}}`,
			`{"resourceType":"EpisodeOfCare","id":"e4","patient":{"reference":"Patient/p2"},"managingOrganization":{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"A81001"}},"period":{"start":"2001-01-01"}}`,
			`{"resourceType":"EpisodeOfCare","id":"e5","status":"entered-in-error"}`,
		),
	}
	_, st, err := Read(src.open, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Patient.ndjson:2 (Patient/p2): no birthDate",
		`Patient.ndjson:3 (Patient/p3): gender "M" is not male, female, other or unknown`,
		"Patient.ndjson:4 (Patient/p4): deceasedBoolean true without a deceasedDateTime: the death date is needed",
		`Patient.ndjson:5 (Patient/p5): NHS number "900 000 0009" is not 10 digits`,
		"Patient.ndjson:6 (Patient/p1): duplicate Patient id (first at line 1)",
		"Patient.ndjson:7 (Patient/p6): deceasedDateTime is before birthDate",
		"EpisodeOfCare.ndjson:1 (EpisodeOfCare/e1): managingOrganization.identifier has no ODS code (system https://fhir.nhs.uk/Id/ods-organization-code)",
		"EpisodeOfCare.ndjson:2 (EpisodeOfCare/e2): no period.start",
		"EpisodeOfCare.ndjson:3 (EpisodeOfCare/e3): period.end is before period.start",
		`EpisodeOfCare.ndjson:4 (EpisodeOfCare/e4): patient.reference "Patient/p2": no such patient in Patient.ndjson`,
	}
	var got []string
	for _, e := range st.Errors {
		got = append(got, e.Error())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st.Patients != 1 || st.Skipped != 1 || st.Bad != 10 || st.Lines != 12 {
		t.Errorf("stats %+v", st)
	}
}

// Resources that say they did not happen are skipped and counted, silently.
func TestEnteredInErrorAndNotDoneAreSkipped(t *testing.T) {
	sct := `{"coding":[{"system":"http://snomed.info/sct","code":"60621009"}]}`
	src := memSource{
		"Patient":      lines(patientP1),
		"Condition":    lines(`{"resourceType":"Condition","id":"c1","verificationStatus":{"coding":[{"code":"entered-in-error"}]},"subject":{"reference":"Patient/p1"}}`),
		"Observation":  lines(`{"resourceType":"Observation","id":"o1","status":"entered-in-error","code":` + sct + `}`),
		"Procedure":    lines(`{"resourceType":"Procedure","id":"x1","status":"not-done"}`),
		"Immunization": lines(`{"resourceType":"Immunization","id":"i1","status":"not-done","vaccineCode":` + sct + `,"patient":{"reference":"Patient/p1"},"occurrenceDateTime":"2020-01-01"}`),
		"MedicationRequest": lines(`{"resourceType":"MedicationRequest","id":"m1","status":"entered-in-error"}`,
			`{"resourceType":"MedicationRequest","id":"m2","status":"active","medicationCodeableConcept":`+sct+`,"subject":{"reference":"Patient/p1"},"authoredOn":"2020-01-01"}`),
	}
	b, st := readSource(t, src, Options{Strict: true})
	if st.Skipped != 5 || st.Bad != 0 || st.Resources != 2 || len(b.Events) != 1 || b.Events[0].Kind != clinical.KindMedication {
		t.Errorf("stats %+v events %+v", st, b.Events)
	}
}

func TestMissingFiles(t *testing.T) {
	_, _, err := Read(memSource{"Observation": nil}.open, Options{})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "Patient.ndjson") {
		t.Errorf("no Patient file: %v", err)
	}
	b, st := readSource(t, memSource{"Patient": lines(patientP1)}, Options{Practice: "X"})
	if len(b.Patients) != 1 || st.Patients != 1 || b.Practice != "X" {
		t.Errorf("only a Patient file: %+v", st)
	}
	broken := func(t string) (io.ReadCloser, error) {
		if t == "Condition" {
			return nil, fs.ErrPermission
		}
		return memSource{"Patient": lines(patientP1)}.open(t)
	}
	if _, _, err := Read(broken, Options{}); !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "Condition.ndjson") {
		t.Errorf("unreadable Condition file: %v", err)
	}
	failing := func(t string) (io.ReadCloser, error) {
		if t == "Observation" {
			return io.NopCloser(iotest.TimeoutReader(bytes.NewReader(bytes.Repeat([]byte(patientP1+"\n"), 1e5)))), nil
		}
		return memSource{"Patient": lines(patientP1)}.open(t)
	}
	if _, _, err := Read(failing, Options{}); !errors.Is(err, iotest.ErrTimeout) || !strings.Contains(err.Error(), "reading Observation.ndjson") {
		t.Errorf("read error: %v", err)
	}
}

func TestDuplicateEventIDsAreBadLines(t *testing.T) {
	c := func(id, date string) string {
		return `{"resourceType":"Condition","id":"` + id + `","code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006"}]},"subject":{"reference":"Patient/p1"},"onsetDateTime":"` + date + `"}`
	}
	src := memSource{"Patient": lines(patientP1), "Condition": lines(c("c1", "2020-01-01"), c("c2", "2020-01-01"), c("c1", "2021-01-01"))}
	b, st := readSource(t, src, Options{})
	if st.Bad != 1 || st.Resources != 3 || len(b.Events) != 2 || st.Errors[0].Error() != "Condition.ndjson:3 (Condition/c1): duplicate Condition id (first at line 1)" {
		t.Errorf("stats %+v", st)
	}
	if _, _, err := Read(src.open, Options{Strict: true}); err == nil || !strings.Contains(err.Error(), "Condition.ndjson:3") {
		t.Errorf("strict: %v", err)
	}
}

// Files much larger than a chunk, read in odd-sized pieces, with lines longer
// than a chunk: line numbers and contents must come out exactly.
func TestLargeFilesAndChunkBoundaries(t *testing.T) {
	pats := fixturePatients(3000, 40, 5)
	src := writeSource(t, pats)
	if len(src["Observation"]) < 3*chunkSize {
		t.Fatalf("fixture too small: %d bytes", len(src["Observation"]))
	}
	want := expectBatch(t, "A81001", pats)
	// A bad line deep in the file, and a resource with a 3 MiB text field.
	obs := bytes.Split(src["Observation"], []byte("\n"))
	badAt := len(obs) - 10
	obs[badAt] = []byte(`{"resourceType":"Observation","id":"bad"`)
	huge := `{"resourceType":"Patient","id":"zz-huge","birthDate":"2000-01-01","text":{"div":"` + strings.Repeat("x", 3<<20) + `"}}`
	src["Observation"] = bytes.Join(obs, []byte("\n"))
	src["Patient"] = append(append(src["Patient"], huge...), '\n')
	halfReads := func(t string) (io.ReadCloser, error) {
		rc, err := src.open(t)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(iotest.HalfReader(rc)), nil
	}
	got, st, err := Read(halfReads, Options{Practice: "A81001"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Bad != 1 || st.Errors[0].Line != badAt+1 || st.Errors[0].File != "Observation.ndjson" {
		t.Errorf("bad line: %+v", st.Errors)
	}
	if got.Patients[len(got.Patients)-1].ID != "zz-huge" || len(got.Patients) != len(pats)+1 {
		t.Errorf("huge line lost")
	}
	// Apart from the one bad line and the extra patient, the batch is intact.
	if len(got.Events) != len(want.Events)-1 || st.Bytes != src.size() {
		t.Errorf("%d events, want %d; %d bytes, want %d", len(got.Events), len(want.Events)-1, st.Bytes, src.size())
	}
}

func TestLineLimit(t *testing.T) {
	long := bytes.Repeat([]byte(" "), maxLine+10)
	src := memSource{"Patient": append([]byte(patientP1+"\n"), long...)}
	_, _, err := Read(src.open, Options{})
	if err == nil || !strings.Contains(err.Error(), "Patient.ndjson:2: line longer than") {
		t.Errorf("got %v", err)
	}
}

func ExampleLineError() {
	fmt.Println(LineError{File: "Observation.ndjson", Line: 12, ResourceID: "Observation/obs-7", Msg: "valueQuantity.value is not a number"})
	// Output: Observation.ndjson:12 (Observation/obs-7): valueQuantity.value is not a number
}
