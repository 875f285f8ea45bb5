package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"gpcollections/domain"
)

// ClusterFile is the name of the cluster file a rule directory uses: in the
// directory itself or, failing that, in the nearest parent directory (so
// several rule sets share one release file).
const ClusterFile = "clusters.csv"

// RuleSet is one service's loaded, validated rules.
type RuleSet struct {
	// Service carries the indicators, dates, frequency, declaration and
	// approval configuration and payment parameters.
	Service domain.ServiceDef
	// Hash is SHA-256 over the rule files and the cluster file, recorded
	// with every extract as provenance.
	Hash     string
	Clusters *Clusters
	Fields   []*Field
	Lists    []*List
	regOrder []int

	once sync.Once
	prog *program
}

// Field returns a field by name.
func (rs *RuleSet) Field(name string) (*Field, bool) {
	for _, f := range rs.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return nil, false
}

// List returns a register or indicator by id.
func (rs *RuleSet) List(id string) (*List, bool) {
	for _, l := range rs.Lists {
		if l.Def.ID == id {
			return l, true
		}
	}
	return nil, false
}

// Load reads and validates every *.rules file of dir in fsys, with the
// cluster file found in dir or its nearest parent. Errors name file and
// line; all problems found are returned together as an ErrorList.
func Load(fsys fs.FS, dir string) (*RuleSet, error) {
	dir = path.Clean(dir)
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("rule directory %s: %v", dir, err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".rules") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("rule directory %s: no .rules files", dir)
	}
	clPath, err := findClusterFile(fsys, dir)
	if err != nil {
		return nil, err
	}
	clData, err := fs.ReadFile(fsys, clPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", clPath, err)
	}
	files := map[string]string{}
	for _, n := range names {
		b, err := fs.ReadFile(fsys, path.Join(dir, n))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path.Join(dir, n), err)
		}
		files[n] = string(b)
	}
	rs, err := Parse(files, ClusterFile, string(clData))
	if err != nil {
		return nil, err
	}
	return rs, nil
}

func findClusterFile(fsys fs.FS, dir string) (string, error) {
	for d := dir; ; d = path.Dir(d) {
		p := path.Join(d, ClusterFile)
		if _, err := fs.Stat(fsys, p); err == nil {
			return p, nil
		}
		if d == "." || d == "/" {
			return "", fmt.Errorf("rule directory %s: no %s in it or a parent directory", dir, ClusterFile)
		}
	}
}

// Parse builds a rule set from rule file contents (name -> text) and the
// cluster file; it is Load without the file system, for tests and fuzzing.
func Parse(files map[string]string, clusterName, clusterData string) (*RuleSet, error) {
	cl, err := ParseClusters(clusterName, strings.NewReader(clusterData))
	if err != nil {
		return nil, err
	}
	rs := &RuleSet{Clusters: cl}
	p := &parser{rs: rs, fieldIdx: map[string]int{}, listIdx: map[string]int{}, payments: map[int]Pos{}}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		lines, err := lexFile(n, files[n])
		if err != nil {
			p.errs = append(p.errs, err)
			continue
		}
		p.parseFile(n, lines)
		fmt.Fprintf(h, "%s\x00%d\x00%s", n, len(files[n]), files[n])
	}
	fmt.Fprintf(h, "%s\x00%d\x00%s", clusterName, len(clusterData), clusterData)
	rs.Hash = hex.EncodeToString(h.Sum(nil))
	if len(p.errs) == 0 {
		p.resolveRules()
		p.checkRefs()
	}
	if p.service == nil {
		p.errs = append(p.errs, fmt.Errorf("no service block in %s", strings.Join(names, ", ")))
	}
	if len(p.errs) == 0 {
		p.buildService()
	}
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return rs, nil
}

// buildService completes the ServiceDef from the lists and validates it.
func (p *parser) buildService() {
	s := &p.rs.Service
	s.RuleSetHash = p.rs.Hash
	s.Indicators = s.Indicators[:0]
	for _, l := range p.rs.Lists {
		s.Indicators = append(s.Indicators, l.Def)
	}
	if err := s.Validate(); err != nil {
		p.errorf(*p.service, "%v", err)
	}
	if len(s.Payment) == 0 {
		p.errorf(*p.service, "service %s has no payment block", s.ID)
	}
	for _, pay := range s.Payment {
		for id := range pay.NationalPrevalence {
			l, ok := p.rs.List(id)
			if !ok || l.Kind != ListRegister {
				p.errorf(*p.service, "payment version %d: national prevalence for %s, which is not a register", pay.Version, id)
			}
		}
		for id := range pay.Fees {
			if l, ok := p.rs.List(id); ok && l.Kind != ListCount {
				p.errorf(*p.service, "payment version %d: fee for %s, which is not a count indicator", pay.Version, id)
			}
		}
	}
	if s.Kind == domain.KindItemOfService {
		for _, l := range p.rs.Lists {
			if l.Kind != ListCount || l.Manual() {
				continue
			}
			for _, pay := range s.Payment {
				if _, ok := pay.Fees[l.Def.ID]; !ok {
					p.errorf(l.Pos, "count indicator %s has no fee in payment version %d", l.Def.ID, pay.Version)
				}
			}
		}
	}
}
