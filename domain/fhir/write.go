package fhir

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
)

// Writer writes patients as a FHIR bulk-data source, one NDJSON stream per
// resource type, in the shapes Read accepts. It refuses what Read could not
// give back unchanged, so that Write then Read round-trips a patient.
//
// Resource ids are derived from the patient id: "<patient>-<n>", n
// zero-padded so that ordering ids reproduces each patient's event order
// (the tie-break Read uses for same-day events).
type Writer struct {
	create func(resourceType string) (io.Writer, error)
	out    [nTypes]*bufio.Writer
	buf    []byte
	err    error
}

// NewWriter writes through create, called at most once per resource type
// when the first resource of that type is written (Patient at the latest on
// Close). The caller closes what create returned, after Close.
func NewWriter(create func(resourceType string) (io.Writer, error)) *Writer {
	return &Writer{create: create}
}

func (w *Writer) stream(t int) (*bufio.Writer, error) {
	if w.out[t] == nil {
		f, err := w.create(ResourceTypes[t])
		if err != nil {
			return nil, fmt.Errorf("creating %s.ndjson: %w", ResourceTypes[t], err)
		}
		w.out[t] = bufio.NewWriterSize(f, 256<<10)
	}
	return w.out[t], nil
}

// Write writes the Patient, one EpisodeOfCare per registration (in start
// order), and one resource per event by Kind (medications as
// MedicationRequest). Nothing is written for a patient that fails the checks.
func (w *Writer) Write(p clinical.Patient) error {
	if w.err != nil {
		return w.err
	}
	if err := checkPatient(&p); err != nil {
		return err
	}
	ev := slices.Clone(p.Events)
	clinical.SortEvents(ev)
	regs := slices.Clone(p.Regs)
	slices.SortStableFunc(regs, regOrder)
	width := len(strconv.Itoa(max(len(ev), len(regs))))

	b := w.buf[:0]
	b = w.patientJSON(b, &p)
	if err := w.emit(tPatient, b); err != nil {
		return err
	}
	for i := range regs {
		b = episodeJSON(b[:0], p.ID, resID(p.ID, i, width), &regs[i])
		if err := w.emit(tEpisode, b); err != nil {
			return err
		}
	}
	for i := range ev {
		t := typeOfKind(ev[i].Kind)
		b = eventJSON(b[:0], t, p.ID, resID(p.ID, i, width), &ev[i])
		if err := w.emit(t, b); err != nil {
			return err
		}
	}
	w.buf = b
	return nil
}

func (w *Writer) emit(t int, line []byte) error {
	s, err := w.stream(t)
	if err == nil {
		_, err = s.Write(append(line, '\n'))
	}
	if err != nil {
		w.err = fmt.Errorf("writing %s.ndjson: %w", ResourceTypes[t], err)
	}
	return w.err
}

// Close flushes every stream, creating Patient if nothing was written so
// that the result is a valid (empty) source.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if _, err := w.stream(tPatient); err != nil {
		w.err = err
		return err
	}
	for t, s := range w.out {
		if s == nil {
			continue
		}
		if err := s.Flush(); err != nil {
			w.err = fmt.Errorf("writing %s.ndjson: %w", ResourceTypes[t], err)
			return w.err
		}
	}
	return nil
}

func typeOfKind(k clinical.Kind) int {
	switch k {
	case clinical.KindCondition:
		return tCondition
	case clinical.KindObservation:
		return tObservation
	case clinical.KindProcedure:
		return tProcedure
	case clinical.KindImmunisation:
		return tImmunization
	case clinical.KindMedication:
		return tMedRequest
	}
	return -1
}

func resID(pid string, i, width int) string {
	n := strconv.Itoa(i)
	for len(n) < width {
		n = "0" + n
	}
	return pid + "-" + n
}

// checkPatient refuses what the NDJSON form cannot carry.
func checkPatient(p *clinical.Patient) error {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("patient %q: "+format, append([]any{p.ID}, a...)...)
	}
	if !validID(p.ID) {
		return fail("id must be 1 to %d of A-Z a-z 0-9 - .", maxID)
	}
	if len(resID(p.ID, max(len(p.Events), len(p.Regs)), 0)) > maxID {
		return fail("id too long to derive resource ids from within %d characters", maxID)
	}
	if !writableDate(p.Birth) {
		return fail("birth date %v is not writable", p.Birth)
	}
	if p.Death.Valid() && (!writableDate(p.Death) || p.Death < p.Birth) {
		return fail("death date %v is not writable or before birth", p.Death)
	}
	if p.NHSNumber != "" {
		if _, ok := digits([]byte(p.NHSNumber)); !ok || len(p.NHSNumber) != 10 {
			return fail("NHS number %q is not 10 digits", p.NHSNumber)
		}
	}
	if p.Sex > clinical.SexOther {
		return fail("unknown sex %d", p.Sex)
	}
	for i, r := range p.Regs {
		switch {
		case r.Practice == "" || len(r.Practice) > 16 || !utf8.ValidString(r.Practice):
			return fail("registration %d: practice code %q", i, r.Practice)
		case !writableDate(r.Start):
			return fail("registration %d: start %v", i, r.Start)
		case r.End.Valid() && (!writableDate(r.End) || r.End < r.Start):
			return fail("registration %d: end %v", i, r.End)
		case len(r.Type) > 64 || !utf8.ValidString(r.Type):
			return fail("registration %d: type %q", i, r.Type)
		}
	}
	for i, e := range p.Events {
		if err := checkEvent(&e); err != "" {
			return fail("event %d (%v %d): %s", i, e.Date, e.Code, err)
		}
	}
	return nil
}

func checkEvent(e *clinical.Event) string {
	switch {
	case typeOfKind(e.Kind) < 0:
		return "unknown kind"
	case !writableDate(e.Date):
		return "date not writable"
	case e.Code < 100000 || e.Code > 999999999999999999:
		return "code is not a SNOMED CT or dm+d id"
	case e.NVal > 2:
		return "more than two values"
	case e.NVal > 0 && e.Kind != clinical.KindObservation:
		return "only observations carry values"
	case e.NVal < 2 && e.V2 != 0, e.NVal < 1 && e.V1 != 0:
		return "a value beyond NVal"
	case e.NVal == 0 && e.Unit != "":
		return "a unit without a value"
	case !finite(e.V1) || !finite(e.V2):
		return "value is not a finite number"
	case len(e.Unit) > 64 || !utf8.ValidString(e.Unit):
		return "unit too long or not UTF-8"
	}
	return ""
}

func finite(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

func writableDate(d domain.Date) bool {
	if !d.Valid() {
		return false
	}
	y, _, _ := d.Civil()
	return y >= 1 && y <= 9999
}

func validID(id string) bool {
	if id == "" || len(id) > maxID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// JSON building: append-only, one line per resource.

func (w *Writer) patientJSON(b []byte, p *clinical.Patient) []byte {
	b = append(b, `{"resourceType":"Patient","id":`...)
	b = jsonStr(b, p.ID)
	if p.NHSNumber != "" {
		b = append(b, `,"identifier":[{"system":"`+SystemNHSNumber+`","value":`...)
		b = jsonStr(b, p.NHSNumber)
		b = append(b, "}]"...)
	}
	b = append(b, `,"gender":`...)
	b = jsonStr(b, p.Sex.String())
	b = append(b, `,"birthDate":"`...)
	b = appendDate(b, p.Birth)
	b = append(b, '"')
	if p.Death.Valid() {
		b = append(b, `,"deceasedDateTime":"`...)
		b = appendDate(b, p.Death)
		b = append(b, '"')
	}
	return append(b, '}')
}

func episodeJSON(b []byte, pid, id string, r *clinical.Registration) []byte {
	b = append(b, `{"resourceType":"EpisodeOfCare","id":`...)
	b = jsonStr(b, id)
	if r.End.Valid() {
		b = append(b, `,"status":"finished"`...)
	} else {
		b = append(b, `,"status":"active"`...)
	}
	if r.Type != "" {
		b = append(b, `,"type":[{"coding":[{"code":`...)
		b = jsonStr(b, r.Type)
		b = append(b, "}]}]"...)
	}
	b = appendRef(b, "patient", pid)
	b = append(b, `,"managingOrganization":{"identifier":{"system":"`+SystemODS+`","value":`...)
	b = jsonStr(b, r.Practice)
	b = append(b, `}},"period":{"start":"`...)
	b = appendDate(b, r.Start)
	b = append(b, '"')
	if r.End.Valid() {
		b = append(b, `,"end":"`...)
		b = appendDate(b, r.End)
		b = append(b, '"')
	}
	return append(b, "}}"...)
}

func eventJSON(b []byte, t int, pid, id string, e *clinical.Event) []byte {
	b = append(b, `{"resourceType":"`...)
	b = append(b, ResourceTypes[t]...)
	b = append(b, `","id":`...)
	b = jsonStr(b, id)
	switch t {
	case tCondition:
		b = append(b, `,"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"confirmed"}]}`...)
		b = appendConcept(b, "code", SystemSNOMED, e.Code)
		b = appendRef(b, "subject", pid)
		b = appendDateField(b, "onsetDateTime", e.Date)
	case tObservation:
		b = append(b, `,"status":"final"`...)
		b = appendConcept(b, "code", SystemSNOMED, e.Code)
		b = appendRef(b, "subject", pid)
		b = appendDateField(b, "effectiveDateTime", e.Date)
		switch e.NVal {
		case 1:
			b = appendQuantity(b, `,"valueQuantity":`, e.V1, e.Unit)
		case 2:
			b = append(b, `,"component":[{"code":{"coding":[{"system":"`+SystemSNOMED+`","code":"`+CodeSystolic+`"}]}`...)
			b = appendQuantity(b, `,"valueQuantity":`, e.V1, e.Unit)
			b = append(b, `},{"code":{"coding":[{"system":"`+SystemSNOMED+`","code":"`+CodeDiastolic+`"}]}`...)
			b = appendQuantity(b, `,"valueQuantity":`, e.V2, e.Unit)
			b = append(b, "}]"...)
		}
	case tProcedure:
		b = append(b, `,"status":"completed"`...)
		b = appendConcept(b, "code", SystemSNOMED, e.Code)
		b = appendRef(b, "subject", pid)
		b = appendDateField(b, "performedDateTime", e.Date)
	case tImmunization:
		b = append(b, `,"status":"completed"`...)
		b = appendConcept(b, "vaccineCode", SystemSNOMED, e.Code)
		b = appendRef(b, "patient", pid)
		b = appendDateField(b, "occurrenceDateTime", e.Date)
	case tMedRequest:
		b = append(b, `,"status":"active","intent":"order"`...)
		b = appendConcept(b, "medicationCodeableConcept", SystemDMD, e.Code)
		b = appendRef(b, "subject", pid)
		b = appendDateField(b, "authoredOn", e.Date)
	}
	return append(b, '}')
}

func appendConcept(b []byte, field, system string, code clinical.Code) []byte {
	b = append(b, `,"`...)
	b = append(b, field...)
	b = append(b, `":{"coding":[{"system":"`...)
	b = append(b, system...)
	b = append(b, `","code":"`...)
	b = strconv.AppendUint(b, uint64(code), 10)
	return append(b, `"}]}`...)
}

func appendRef(b []byte, field, pid string) []byte {
	b = append(b, `,"`...)
	b = append(b, field...)
	b = append(b, `":{"reference":`...)
	b = jsonStr(b, "Patient/"+pid)
	return append(b, '}')
}

func appendDateField(b []byte, field string, d domain.Date) []byte {
	b = append(b, `,"`...)
	b = append(b, field...)
	b = append(b, `":"`...)
	b = appendDate(b, d)
	return append(b, '"')
}

// appendQuantity writes the shortest decimal that reads back as the same
// float32.
func appendQuantity(b []byte, prefix string, v float32, unit string) []byte {
	b = append(b, prefix...)
	b = append(b, `{"value":`...)
	b = strconv.AppendFloat(b, float64(v), 'g', -1, 32)
	if unit != "" {
		b = append(b, `,"unit":`...)
		b = jsonStr(b, unit)
	}
	return append(b, '}')
}

func appendDate(b []byte, d domain.Date) []byte {
	y, m, dd := d.Civil()
	b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-')
	b = append(b, byte('0'+int(m)/10), byte('0'+int(m)%10), '-')
	return append(b, byte('0'+dd/10), byte('0'+dd%10))
}

// jsonStr appends s as a JSON string (s is valid UTF-8, checked before).
func jsonStr(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
