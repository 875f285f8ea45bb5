package rules

import (
	"fmt"
	"slices"
	"strings"
)

// EmptyCluster is a cluster a rule set uses that has no member codes in the
// loaded cluster file, with what it silences. The rules are valid; they just
// cannot match, which with a sample cluster file is worth saying out loud.
type EmptyCluster struct {
	Cluster string
	Fields  []string // fields defined on it alone: never present, count 0
	Lists   []string // registers and indicators whose rules read those fields or test the cluster
}

func (e EmptyCluster) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cluster %s has no member codes in the cluster file", e.Cluster)
	switch len(e.Fields) {
	case 0:
	case 1:
		fmt.Fprintf(&b, ": field %s never matches", e.Fields[0])
	default:
		fmt.Fprintf(&b, ": fields %s never match", strings.Join(e.Fields, ", "))
	}
	if len(e.Lists) > 0 {
		fmt.Fprintf(&b, "; affects %s", strings.Join(e.Lists, ", "))
	}
	return b.String()
}

// EmptyClusters lists the clusters the rule set uses that have no codes,
// in name order.
func (rs *RuleSet) EmptyClusters() []EmptyCluster {
	used := map[string]bool{}
	for _, f := range rs.Fields {
		for _, c := range f.Clusters {
			used[c] = true
		}
	}
	for _, l := range rs.Lists {
		for _, r := range l.allRules() {
			walkExpr(r.Cond, func(e *Expr) {
				for _, c := range e.Clusters {
					used[c] = true
				}
			})
		}
	}
	var out []EmptyCluster
	for c := range used {
		if len(rs.Clusters.Codes(c)) > 0 {
			continue
		}
		ec := EmptyCluster{Cluster: c}
		dead := map[int]bool{}
		for i, f := range rs.Fields {
			// A field over several clusters still matches through the others.
			if f.Kind != FieldAge && len(f.Clusters) > 0 && !slices.ContainsFunc(f.Clusters, func(x string) bool {
				return len(rs.Clusters.Codes(x)) > 0
			}) && slices.Contains(f.Clusters, c) {
				dead[i] = true
				ec.Fields = append(ec.Fields, f.Name)
			}
		}
		for _, l := range rs.Lists {
			hit := false
			for _, r := range l.allRules() {
				walkExpr(r.Cond, func(e *Expr) {
					if slices.Contains(e.Clusters, c) || e.Op == OpPresent && dead[e.Field] {
						hit = true
					}
					for _, o := range []Operand{e.A, e.B} {
						if (o.Kind == OpdValue || o.Kind == OpdValue2 || o.Kind == OpdCount || o.Kind == OpdDate && o.Date.Anchor == AnchorField) && dead[o.fieldIndex()] {
							hit = true
						}
					}
				})
			}
			if hit {
				ec.Lists = append(ec.Lists, l.Def.ID)
			}
		}
		out = append(out, ec)
	}
	slices.SortFunc(out, func(a, b EmptyCluster) int { return strings.Compare(a.Cluster, b.Cluster) })
	return out
}

func (l *List) allRules() []Rule {
	return slices.Concat(l.Rules, l.Denom, l.Numer)
}

// fieldIndex is the field an operand reads, or -1.
func (o Operand) fieldIndex() int {
	if o.Kind == OpdDate {
		return o.Date.Field
	}
	return o.Field
}
