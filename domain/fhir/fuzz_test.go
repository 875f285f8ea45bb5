package fhir

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"gpcollections/domain/clinical"
)

// FuzzRead feeds arbitrary content as one resource file (and as the Patient
// file): the reader must not panic, every bad line must carry its file and a
// line number inside the file, and the counts must add up.
func FuzzRead(f *testing.F) {
	src := writeSource(f, handPatients())
	for t, rt := range ResourceTypes {
		if b, ok := src[rt]; ok {
			f.Add(uint8(t), src["Patient"], b)
		}
	}
	f.Add(uint8(tObservation), []byte(patientP1), []byte(`{"resourceType":"Observation","id":"o\u0031","subject":{"reference":"Patient/p1"},"code":{"coding":[{"system":"http://snomed.info/sct","code":"75367002"}]},"effectiveDateTime":"2020-01-01T10:00:00+01:00","component":[{"code":{"coding":[{"system":"http://snomed.info/sct","code":"271649006"}]},"valueQuantity":{"value":1.5e2}}]}`))
	f.Add(uint8(tPatient), []byte(""), []byte("{\"a\":[1,{\"b\":null}],\"c\":\"\\ud83d\\ude00\"}\n\n{"))
	f.Fuzz(func(t *testing.T, which uint8, patients, content []byte) {
		rt := ResourceTypes[int(which)%len(ResourceTypes)]
		files := memSource{"Patient": patients}
		files[rt] = content
		for _, strict := range []bool{false, true} {
			b, st, err := Read(files.open, Options{Practice: "A81001", Strict: strict})
			var le LineError
			if errors.As(err, &le) {
				checkLineError(t, files, le)
			}
			if err != nil {
				continue
			}
			for _, e := range st.Errors {
				checkLineError(t, files, e)
			}
			if st.Lines != st.Resources+st.Skipped+st.Bad || st.Patients != len(b.Patients) || st.Events != len(b.Events) {
				t.Fatalf("counts do not add up: %+v", st)
			}
			if strict && st.Bad != 0 {
				t.Fatalf("strict import with bad lines: %+v", st)
			}
			if !slices.IsSortedFunc(b.Patients, func(x, y clinical.PatientRow) int { return strings.Compare(x.ID, y.ID) }) {
				t.Fatal("patients not in id order")
			}
		}
	})
}

func checkLineError(t *testing.T, files memSource, e LineError) {
	t.Helper()
	rt, ok := bytes.CutSuffix([]byte(e.File), []byte(".ndjson"))
	content, present := files[string(rt)]
	if !ok || !present {
		t.Fatalf("error names no file of the source: %v", e)
	}
	n := bytes.Count(content, []byte("\n"))
	if len(content) > 0 && content[len(content)-1] != '\n' {
		n++
	}
	if e.Line < 1 || e.Line > n || e.Msg == "" {
		t.Fatalf("error line %d outside 1..%d or without message: %v", e.Line, n, e)
	}
}
