package fhir

import (
	"strconv"
	"time"
	"unicode/utf8"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
)

// Resource type indexes into ResourceTypes.
const (
	tPatient = iota
	tEpisode
	tCondition
	tObservation
	tProcedure
	tImmunization
	tMedRequest
	tMedStatement
	nTypes
)

// ResourceTypes are the files of a practice source, in import order.
var ResourceTypes = []string{"Patient", "EpisodeOfCare", "Condition", "Observation", "Procedure", "Immunization", "MedicationRequest", "MedicationStatement"}

var kindOf = [...]clinical.Kind{
	tCondition:    clinical.KindCondition,
	tObservation:  clinical.KindObservation,
	tProcedure:    clinical.KindProcedure,
	tImmunization: clinical.KindImmunisation,
	tMedRequest:   clinical.KindMedication,
	tMedStatement: clinical.KindMedication,
}

// skipStatus lists, per resource type, the statuses that mean "this did not
// happen": such resources are counted as skipped, not imported, not errors.
func skipStatus(t int, r *res) bool {
	st := string(r.status)
	switch t {
	case tEpisode:
		return st == "entered-in-error" || st == "cancelled"
	case tCondition:
		v := string(r.verif.first)
		return v == "entered-in-error" || v == "refuted"
	case tObservation:
		return st == "entered-in-error" || st == "cancelled"
	case tProcedure, tImmunization:
		return st == "entered-in-error" || st == "not-done"
	case tMedRequest:
		return st == "entered-in-error" || st == "cancelled"
	case tMedStatement:
		return st == "entered-in-error" || st == "not-taken"
	}
	return false
}

// lineFail is a problem with one line, before file and line are known.
type lineFail string

// parseDate takes the civil date part of a FHIR date or dateTime as written
// (no zone conversion) and rejects partial dates and malformed times.
func parseDate(b []byte, what string) (domain.Date, lineFail) {
	if len(b) < 10 {
		if len(b) == 4 || len(b) == 7 {
			return domain.NoDate, lineFail(what + " " + strconv.Quote(string(b)) + " is a partial date: a full date is needed")
		}
		return domain.NoDate, badDate(b, what)
	}
	y, ok1 := digits(b[0:4])
	m, ok2 := digits(b[5:7])
	d, ok3 := digits(b[8:10])
	if !ok1 || !ok2 || !ok3 || b[4] != '-' || b[7] != '-' || m < 1 || m > 12 || d < 1 {
		return domain.NoDate, badDate(b, what)
	}
	date := domain.DateOf(y, time.Month(m), d)
	if yy, mm, dd := date.Civil(); yy != y || int(mm) != m || dd != d {
		return domain.NoDate, badDate(b, what)
	}
	if len(b) > 10 && !validTime(b[10:]) {
		return domain.NoDate, badDate(b, what)
	}
	return date, ""
}

func badDate(b []byte, what string) lineFail {
	return lineFail(what + " " + strconv.Quote(string(b)) + " is not a valid date or dateTime")
}

// validTime checks "Thh:mm:ss[.fff][Z|(+|-)hh:mm]".
func validTime(t []byte) bool {
	if len(t) < 9 || t[0] != 'T' || t[3] != ':' || t[6] != ':' {
		return false
	}
	h, ok1 := digits(t[1:3])
	mi, ok2 := digits(t[4:6])
	sec, ok3 := digits(t[7:9])
	if !ok1 || !ok2 || !ok3 || h > 23 || mi > 59 || sec > 60 {
		return false
	}
	t = t[9:]
	if len(t) > 0 && t[0] == '.' {
		n := 1
		for n < len(t) && t[n] >= '0' && t[n] <= '9' {
			n++
		}
		if n == 1 {
			return false
		}
		t = t[n:]
	}
	switch {
	case len(t) == 0:
		return true
	case len(t) == 1:
		return t[0] == 'Z'
	case len(t) == 6 && (t[0] == '+' || t[0] == '-') && t[3] == ':':
		zh, ok1 := digits(t[1:3])
		zm, ok2 := digits(t[4:6])
		return ok1 && ok2 && zh <= 14 && zm <= 59
	}
	return false
}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// parseCode reads a SNOMED CT or dm+d concept id: 6 to 18 digits, no
// leading zero (the SCTID format).
func parseCode(b []byte, what string) (clinical.Code, lineFail) {
	if len(b) < 6 || len(b) > 18 || b[0] == '0' {
		return 0, lineFail(what + " " + strconv.Quote(string(b)) + " is not a SNOMED CT or dm+d id")
	}
	n, ok := digits(b)
	if !ok {
		return 0, lineFail(what + " " + strconv.Quote(string(b)) + " is not a SNOMED CT or dm+d id")
	}
	return clinical.Code(n), ""
}

// pickCode chooses the event code: the first SNOMED CT coding, or for
// immunisations and medications the first coding that is SNOMED CT or dm+d.
func pickCode(c *concept, what string, dmdToo bool) (clinical.Code, lineFail) {
	if !c.present {
		return 0, lineFail("no " + what)
	}
	code := c.snomed
	if dmdToo && c.dmd != nil && (c.snomed == nil || c.dmdFirst) {
		code = c.dmd
	}
	if code == nil {
		if dmdToo {
			return 0, lineFail(what + " has no SNOMED CT or dm+d coding")
		}
		return 0, lineFail(what + " has no SNOMED CT coding")
	}
	return parseCode(code, what+".coding.code")
}

// parseValue reads a quantity value into a float32.
func parseValue(b []byte, what string) (float32, lineFail) {
	if b == nil {
		return 0, lineFail(what + ".value is missing")
	}
	f, err := strconv.ParseFloat(string(b), 32)
	if err != nil {
		return 0, lineFail(what + ".value " + string(b) + " is out of range")
	}
	return float32(f), ""
}

// textField checks a string the batch keeps (ids, NHS numbers, units).
func textField(b []byte, what string, max int) lineFail {
	if len(b) > max {
		return lineFail(what + " is longer than " + strconv.Itoa(max) + " bytes")
	}
	if !utf8.Valid(b) {
		return lineFail(what + " is not valid UTF-8")
	}
	return ""
}

// patientRef takes the id out of "Patient/<id>".
func patientRef(ref []byte, what string) ([]byte, lineFail) {
	if ref == nil {
		return nil, lineFail("no " + what + ".reference")
	}
	const p = "Patient/"
	if len(ref) <= len(p) || string(ref[:len(p)]) != p {
		return nil, lineFail(what + ".reference " + strconv.Quote(string(ref)) + " is not Patient/<id>")
	}
	return ref[len(p):], ""
}

// eventDate picks the date of an event resource by type.
func eventDate(t int, r *res) (domain.Date, lineFail) {
	var b []byte
	var what string
	switch t {
	case tCondition:
		b, what = r.onset, "onsetDateTime"
		if b == nil {
			b, what = r.recorded, "recordedDate"
		}
		if b == nil {
			return domain.NoDate, "no onsetDateTime or recordedDate"
		}
	case tObservation:
		b, what = r.effective, "effectiveDateTime"
	case tProcedure:
		b, what = r.performed, "performedDateTime"
	case tImmunization:
		b, what = r.occurrence, "occurrenceDateTime"
	case tMedRequest:
		b, what = r.authored, "authoredOn"
	case tMedStatement:
		b, what = r.effective, "effectiveDateTime"
		if b == nil {
			b, what = r.asserted, "dateAsserted"
		}
		if b == nil {
			return domain.NoDate, "no effectiveDateTime or dateAsserted"
		}
	}
	if b == nil {
		return domain.NoDate, lineFail("no " + what)
	}
	return parseDate(b, what)
}

// eventCode picks the code of an event resource by type.
func eventCode(t int, r *res) (clinical.Code, lineFail) {
	switch t {
	case tImmunization:
		return pickCode(&r.vaccine, "vaccineCode", true)
	case tMedRequest, tMedStatement:
		if !r.med.present && r.medRef {
			return 0, "medicationReference is not supported: medicationCodeableConcept is needed"
		}
		return pickCode(&r.med, "medicationCodeableConcept", true)
	}
	return pickCode(&r.code, "code", false)
}

// eventValues fills NVal, V1, V2 and the unit of an Observation.
func eventValues(r *res, e *rawEvent) ([]byte, lineFail) {
	switch {
	case r.hasComponent && r.vq.present:
		return nil, "both valueQuantity and blood pressure components"
	case r.hasComponent:
		if !r.sys.present {
			return nil, "diastolic component without a systolic one"
		}
		v1, f := parseValue(r.sys.value, "component("+CodeSystolic+").valueQuantity")
		if f != "" {
			return nil, f
		}
		e.v1, e.nval = v1, 1
		unit := r.sys.unit
		if r.dia.present {
			v2, f := parseValue(r.dia.value, "component("+CodeDiastolic+").valueQuantity")
			if f != "" {
				return nil, f
			}
			e.v2, e.nval = v2, 2
			if unit == nil {
				unit = r.dia.unit
			}
		}
		return unit, ""
	case r.vq.present:
		v1, f := parseValue(r.vq.value, "valueQuantity")
		if f != "" {
			return nil, f
		}
		e.v1, e.nval = v1, 1
		return r.vq.unit, ""
	}
	return nil, ""
}

// patientFields converts a Patient resource.
func patientFields(r *res, p *rawPatient) lineFail {
	if r.birthDate == nil {
		return "no birthDate"
	}
	birth, f := parseDate(r.birthDate, "birthDate")
	if f != "" {
		return f
	}
	p.birth, p.death = birth, domain.NoDate
	switch string(r.gender) {
	case "", "unknown":
		p.sex = clinical.SexUnknown
	case "male":
		p.sex = clinical.SexMale
	case "female":
		p.sex = clinical.SexFemale
	case "other":
		p.sex = clinical.SexOther
	default:
		return lineFail("gender " + strconv.Quote(string(r.gender)) + " is not male, female, other or unknown")
	}
	if r.nhsSeen {
		if len(r.nhs) != 10 {
			return lineFail("NHS number " + strconv.Quote(string(r.nhs)) + " is not 10 digits")
		}
		if _, ok := digits(r.nhs); !ok {
			return lineFail("NHS number " + strconv.Quote(string(r.nhs)) + " is not 10 digits")
		}
		p.nhs = string(r.nhs)
	}
	switch {
	case r.deceasedDT != nil:
		d, f := parseDate(r.deceasedDT, "deceasedDateTime")
		if f != "" {
			return f
		}
		if d < birth {
			return "deceasedDateTime is before birthDate"
		}
		p.death = d
	case r.deceasedSet && r.deceased:
		return "deceasedBoolean true without a deceasedDateTime: the death date is needed"
	}
	return ""
}
