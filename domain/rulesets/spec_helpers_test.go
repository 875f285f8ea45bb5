package rulesets_test

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
	"gpcollections/domain/rules"
	"gpcollections/domain/rulesets"
)

// Spec tests: small hand-built patients, written as tables, with the
// expected counts for every field of the indicators under test. Each case
// runs through both evaluators.

const practice = "A81001"

// ev is one coded event, by cluster name (the first code of the cluster in
// the shipped file) or by an explicit code.
type ev struct {
	cluster string
	code    clinical.Code
	date    string
	vals    []float32
}

func e(cluster, date string, vals ...float32) ev { return ev{cluster: cluster, date: date, vals: vals} }

// code builds an event with a literal code (e.g. one outside every cluster).
func code(c clinical.Code, date string) ev { return ev{code: c, date: date} }

// pt is one patient. Birth is the date of birth; Reg the registration start
// (default 2000-01-01); RegEnd and Death optional.
type pt struct {
	id     string
	birth  string
	sex    clinical.Sex
	reg    string
	regEnd string
	death  string
	events []ev
}

// spec is one table row: patients and expected values per "IND/FIELD".
// Every field of every indicator named in want is checked, so an
// unexpected count anywhere in those indicators fails.
type spec struct {
	name     string
	ach      string
	patients []pt
	want     map[string]int64
}

func clusterCode(t *testing.T, cl *rules.Clusters, name string) clinical.Code {
	t.Helper()
	codes := cl.Codes(name)
	if len(codes) == 0 {
		t.Fatalf("cluster %s has no codes in the shipped file", name)
	}
	return codes[0]
}

func buildBatch(t *testing.T, cl *rules.Clusters, pts []pt) *clinical.Batch {
	t.Helper()
	bl := clinical.NewBuilder(practice)
	d := func(s string) domain.Date {
		if s == "" {
			return domain.NoDate
		}
		return domain.MustDate(s)
	}
	for i, p := range pts {
		id := p.id
		if id == "" {
			id = "P" + string(rune('A'+i%26)) + strings.Repeat("x", i/26)
		}
		reg := p.reg
		if reg == "" {
			reg = "2000-01-01"
		}
		sex := p.sex
		if sex == 0 {
			sex = clinical.SexFemale
		}
		cp := clinical.Patient{ID: id, Birth: d(p.birth), Death: d(p.death), Sex: sex,
			Regs: []clinical.Registration{{Practice: practice, Start: d(reg), End: d(p.regEnd)}}}
		for k, x := range p.events {
			c := x.code
			if c == 0 {
				c = clusterCode(t, cl, x.cluster)
			}
			evt := clinical.Event{Date: d(x.date), Code: c, Kind: clinical.KindObservation, Seq: uint32(k)}
			switch len(x.vals) {
			case 1:
				evt.NVal, evt.V1 = 1, x.vals[0]
			case 2:
				evt.NVal, evt.V1, evt.V2 = 2, x.vals[0], x.vals[1]
			}
			cp.Events = append(cp.Events, evt)
		}
		if err := bl.Add(cp); err != nil {
			t.Fatal(err)
		}
	}
	return bl.Build()
}

func runSpecs(t *testing.T, service string, specs []spec) {
	t.Helper()
	rs, err := rulesets.Load(service)
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range specs {
		t.Run(sp.name, func(t *testing.T) {
			ach := domain.MustDate(sp.ach)
			b := buildBatch(t, rs.Clusters, sp.patients)
			fast := rs.Evaluate(b, ach)
			ref := rs.EvaluateReference(b, ach)
			if !reflect.DeepEqual(fast, ref) {
				t.Fatalf("fast and reference evaluators disagree:\nfast %v\nref  %v", fast, ref)
			}
			got := map[string]int64{}
			for _, r := range fast {
				got[r.Indicator+"/"+r.Field] = r.Value
			}
			inds := map[string]bool{}
			for k := range sp.want {
				inds[strings.SplitN(k, "/", 2)[0]] = true
			}
			var keys []string
			for id := range inds {
				def, ok := rs.Service.Indicator(id)
				if !ok {
					t.Fatalf("no indicator %s in %s", id, service)
				}
				for _, f := range def.Fields() {
					keys = append(keys, id+"/"+f)
				}
			}
			for k := range sp.want {
				if _, ok := got[k]; !ok {
					t.Errorf("expected field %s is not in the output", k)
				}
			}
			sort.Strings(keys)
			for _, k := range keys {
				if got[k] != sp.want[k] {
					t.Errorf("%s = %d, want %d", k, got[k], sp.want[k])
				}
			}
			recordCoverage(t, service, rs, b, ach)
			if t.Failed() {
				for _, p := range b.Patients {
					txt, _ := rs.Explain(b, ach, p.ID)
					t.Log(txt)
				}
			}
		})
	}
}
