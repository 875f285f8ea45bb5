package fhir

// UK Core and terminology systems.
const (
	SystemNHSNumber = "https://fhir.nhs.uk/Id/nhs-number"
	SystemODS       = "https://fhir.nhs.uk/Id/ods-organization-code"
	SystemSNOMED    = "http://snomed.info/sct"
	SystemDMD       = "https://dmd.nhs.uk"
)

// Blood pressure component codes (SNOMED CT).
const (
	CodeSystolic  = "271649006"
	CodeDiastolic = "271650006"
)

// concept is what the importer keeps of a CodeableConcept: the first SNOMED
// CT and first dm+d codings, which came first, and the first code of any
// system (for status-like concepts).
type concept struct {
	present  bool
	snomed   []byte
	dmd      []byte
	dmdFirst bool
	first    []byte
}

// quantity is a valueQuantity: value as JSON number text, and its unit.
type quantity struct {
	present bool
	value   []byte
	unit    []byte
}

// res holds the fields of interest of one resource of any type, as slices
// of the line (or decoded copies). The per-type readers pick what they need.
type res struct {
	rtype, id, status          []byte
	nhs                        []byte
	nhsSeen                    bool
	birthDate, gender          []byte
	deceasedDT                 []byte
	deceased, deceasedSet      bool
	subject, patient           []byte
	ods                        []byte
	orgSeen                    bool
	periodStart, periodEnd     []byte
	typeCode                   []byte
	code, vaccine, med, verif  concept
	medRef                     bool
	onset, recorded, effective []byte
	performed, occurrence      []byte
	authored, asserted         []byte
	vq                         quantity
	sys, dia                   quantity
	hasComponent               bool
}

// parse reads one resource line into r; the error is in s.err.
func (s *scanner) parse(r *res) {
	*r = res{}
	if !s.open('{', "the line", "") {
		return
	}
	first := true
	for k, more := s.key(&first); more; k, more = s.key(&first) {
		switch string(k) {
		case "resourceType":
			r.rtype = s.strField("resourceType", "")
		case "id":
			r.id = s.strField("id", "")
		case "status":
			r.status = s.strField("status", "")
		case "identifier":
			s.identifiers(r)
		case "birthDate":
			r.birthDate = s.strField("birthDate", "")
		case "gender":
			r.gender = s.strField("gender", "")
		case "deceasedDateTime":
			r.deceasedDT = s.strField("deceasedDateTime", "")
		case "deceasedBoolean":
			r.deceased, r.deceasedSet = s.boolField("deceasedBoolean", "")
		case "subject":
			r.subject, _ = s.strings2("subject", "", "reference", "")
		case "patient":
			r.patient, _ = s.strings2("patient", "", "reference", "")
		case "managingOrganization":
			s.organization(r)
		case "period":
			r.periodStart, r.periodEnd = s.strings2("period", "", "start", "end")
		case "type":
			s.typeCode(r)
		case "code":
			s.concept(&r.code, "code")
		case "vaccineCode":
			s.concept(&r.vaccine, "vaccineCode")
		case "medicationCodeableConcept":
			s.concept(&r.med, "medicationCodeableConcept")
		case "medicationReference":
			r.medRef = true
			s.skip(1)
		case "verificationStatus":
			s.concept(&r.verif, "verificationStatus")
		case "onsetDateTime":
			r.onset = s.strField("onsetDateTime", "")
		case "recordedDate":
			r.recorded = s.strField("recordedDate", "")
		case "effectiveDateTime":
			r.effective = s.strField("effectiveDateTime", "")
		case "performedDateTime":
			r.performed = s.strField("performedDateTime", "")
		case "occurrenceDateTime":
			r.occurrence = s.strField("occurrenceDateTime", "")
		case "authoredOn":
			r.authored = s.strField("authoredOn", "")
		case "dateAsserted":
			r.asserted = s.strField("dateAsserted", "")
		case "valueQuantity":
			s.quantity(&r.vq, "valueQuantity")
		case "component":
			s.components(r)
		default:
			s.skip(1)
		}
	}
	s.end()
}

// identifiers keeps the NHS number from Patient.identifier.
func (s *scanner) identifiers(r *res) {
	if !s.open('[', "identifier", "") {
		return
	}
	first := true
	for s.elem(&first) {
		sys, val := s.strings2("identifier", "", "system", "value")
		if string(sys) == SystemNHSNumber && !r.nhsSeen {
			r.nhs, r.nhsSeen = val, true
		}
	}
}

// organization reads managingOrganization.identifier (the ODS code).
func (s *scanner) organization(r *res) {
	if !s.open('{', "managingOrganization", "") {
		return
	}
	r.orgSeen = true
	first := true
	for k, more := s.key(&first); more; k, more = s.key(&first) {
		if string(k) == "identifier" {
			sys, val := s.strings2("managingOrganization", ".identifier", "system", "value")
			if string(sys) == SystemODS {
				r.ods = val
			}
		} else {
			s.skip(2)
		}
	}
}

// typeCode keeps type[0].coding[0].code.
func (s *scanner) typeCode(r *res) {
	if !s.open('[', "type", "") {
		return
	}
	first := true
	for n := 0; s.elem(&first); n++ {
		var c concept
		s.concept(&c, "type")
		if n == 0 {
			r.typeCode = c.first
		}
	}
}

// concept reads a CodeableConcept.
func (s *scanner) concept(c *concept, what string) {
	if !s.open('{', what, "") {
		return
	}
	c.present = true
	first := true
	for k, more := s.key(&first); more; k, more = s.key(&first) {
		if string(k) != "coding" {
			s.skip(2)
			continue
		}
		if !s.open('[', what, ".coding") {
			return
		}
		cfirst := true
		for n := 0; s.elem(&cfirst); n++ {
			sys, code := s.strings2(what, ".coding", "system", "code")
			if n == 0 {
				c.first = code
			}
			if code == nil {
				continue
			}
			switch string(sys) {
			case SystemSNOMED:
				if c.snomed == nil {
					c.snomed = code
				}
			case SystemDMD:
				if c.dmd == nil {
					c.dmd = code
					c.dmdFirst = c.snomed == nil
				}
			}
		}
	}
}

// quantity reads {value, unit}.
func (s *scanner) quantity(q *quantity, what string) {
	if !s.open('{', what, "") {
		return
	}
	q.present = true
	first := true
	for k, more := s.key(&first); more; k, more = s.key(&first) {
		switch string(k) {
		case "value":
			q.value = s.numField(what, ".value")
		case "unit":
			q.unit = s.strField(what, ".unit")
		default:
			s.skip(2)
		}
	}
}

// components keeps the systolic and diastolic blood pressure components.
func (s *scanner) components(r *res) {
	if !s.open('[', "component", "") {
		return
	}
	first := true
	for s.elem(&first) {
		if !s.open('{', "component", "") {
			return
		}
		var c concept
		var q quantity
		cfirst := true
		for k, more := s.key(&cfirst); more; k, more = s.key(&cfirst) {
			switch string(k) {
			case "code":
				s.concept(&c, "component.code")
			case "valueQuantity":
				s.quantity(&q, "component.valueQuantity")
			default:
				s.skip(2)
			}
		}
		var slot *quantity
		switch string(c.snomed) {
		case CodeSystolic:
			slot = &r.sys
		case CodeDiastolic:
			slot = &r.dia
		default:
			continue
		}
		if !s.ok() {
			return
		}
		if slot.present {
			s.fail("component: two " + string(c.snomed) + " components")
			return
		}
		if !q.present {
			s.fail("component " + string(c.snomed) + " has no valueQuantity")
			return
		}
		*slot = q
		r.hasComponent = true
	}
}

// strings2 reads an object for its string members k1 and k2 (k2 may be
// ""): an Identifier, Coding, Reference or Period.
func (s *scanner) strings2(what, sub, k1, k2 string) (v1, v2 []byte) {
	if !s.open('{', what, sub) {
		return nil, nil
	}
	first := true
	for k, more := s.key(&first); more; k, more = s.key(&first) {
		switch {
		case string(k) == k1:
			v1 = s.strField(what, sub, ".", k1)
		case k2 != "" && string(k) == k2:
			v2 = s.strField(what, sub, ".", k2)
		default:
			s.skip(3)
		}
	}
	return v1, v2
}
