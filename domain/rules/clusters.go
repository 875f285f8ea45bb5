package rules

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"gpcollections/domain/clinical"
)

// Member is one row of a cluster file: a concept in a cluster's refset.
type Member struct {
	Cluster     string
	Refset      string
	Code        clinical.Code
	Description string
}

// Clusters maps cluster names (DM_COD) to SNOMED CT / dm+d codes, read from
// a file in the shape of the Primary Care Domain reference-set release.
type Clusters struct {
	byName  map[string][]clinical.Code
	refset  map[string]string
	members []Member
}

// Has reports whether a cluster is defined.
func (c *Clusters) Has(name string) bool {
	_, ok := c.byName[name]
	return ok
}

// Codes lists a cluster's codes in file order.
func (c *Clusters) Codes(name string) []clinical.Code { return c.byName[name] }

// Refset is the cluster's reference set id.
func (c *Clusters) Refset(name string) string { return c.refset[name] }

// Names lists the clusters, sorted.
func (c *Clusters) Names() []string {
	out := make([]string, 0, len(c.byName))
	for n := range c.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Members lists every row in file order.
func (c *Clusters) Members() []Member { return c.members }

// Contains reports whether code is in the cluster.
func (c *Clusters) Contains(name string, code clinical.Code) bool {
	for _, x := range c.byName[name] {
		if x == code {
			return true
		}
	}
	return false
}

// ParseClusters reads a cluster file: a CSV with the header
// cluster_id,refset_id,concept_id,description; lines starting with # are
// comments (the shipped file says at its top that it is a sample). file
// names the input in error messages.
func ParseClusters(file string, r io.Reader) (*Clusters, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	c := &Clusters{byName: map[string][]clinical.Code{}, refset: map[string]string{}}
	header := true
	seen := map[string]map[clinical.Code]bool{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("%s:%d: %v", file, pe.Line, pe.Err)
			}
			return nil, fmt.Errorf("%s: %v", file, err)
		}
		if header {
			header = false
			want := []string{"cluster_id", "refset_id", "concept_id", "description"}
			if len(rec) != 4 {
				return nil, fmt.Errorf("%s:%d: header must be %s", file, line, strings.Join(want, ","))
			}
			for i, w := range want {
				if strings.TrimSpace(strings.ToLower(rec[i])) != w {
					return nil, fmt.Errorf("%s:%d: header must be %s", file, line, strings.Join(want, ","))
				}
			}
			continue
		}
		if len(rec) != 4 {
			return nil, fmt.Errorf("%s:%d: want 4 columns (cluster_id,refset_id,concept_id,description), found %d", file, line, len(rec))
		}
		name := strings.TrimSpace(rec[0])
		refset := strings.TrimSpace(rec[1])
		if name == "" || strings.ContainsAny(name, " ,.") {
			return nil, fmt.Errorf("%s:%d: bad cluster id %q", file, line, name)
		}
		if prev, ok := c.refset[name]; ok && prev != refset {
			return nil, fmt.Errorf("%s:%d: cluster %s has refset %s here but %s earlier", file, line, name, refset, prev)
		}
		if strings.TrimSpace(rec[2]) == "" {
			// A blank concept declares a cluster whose members a sample
			// file does not carry: rules may name it, nothing matches it.
			c.refset[name] = refset
			if c.byName[name] == nil {
				c.byName[name] = []clinical.Code{}
			}
			continue
		}
		code, err := strconv.ParseUint(strings.TrimSpace(rec[2]), 10, 64)
		if err != nil || code == 0 {
			return nil, fmt.Errorf("%s:%d: concept id %q is not a SNOMED CT / dm+d identifier", file, line, rec[2])
		}
		c.refset[name] = refset
		if seen[name] == nil {
			seen[name] = map[clinical.Code]bool{}
		}
		if seen[name][clinical.Code(code)] {
			return nil, fmt.Errorf("%s:%d: concept %d listed twice in %s", file, line, code, name)
		}
		seen[name][clinical.Code(code)] = true
		c.byName[name] = append(c.byName[name], clinical.Code(code))
		c.members = append(c.members, Member{Cluster: name, Refset: refset, Code: clinical.Code(code), Description: strings.TrimSpace(rec[3])})
	}
	if header {
		return nil, fmt.Errorf("%s: empty cluster file", file)
	}
	return c, nil
}
