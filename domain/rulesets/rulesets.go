// Package rulesets holds the shipped rule sets (QOF 2025/26 and the
// enhanced services) and the sample cluster file, embedded in the binary,
// with a small API to load them. A deployment may point gpc at its own rule
// directory instead; these are the defaults.
package rulesets

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"

	"gpcollections/domain"
	"gpcollections/domain/rules"
)

//go:embed files
var files embed.FS

// FS is the embedded tree: files/clusters.csv and one directory per rule set.
func FS() fs.FS {
	sub, err := fs.Sub(files, "files")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return sub
}

// IDs lists the shipped rule sets, sorted.
func IDs() []string {
	entries, _ := fs.ReadDir(FS(), ".")
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

type loaded struct {
	once sync.Once
	rs   *rules.RuleSet
	err  error
}

var (
	mu    sync.Mutex
	cache = map[string]*loaded{}
)

// Load parses a shipped rule set once and returns the shared result;
// callers must not modify it.
func Load(id string) (*rules.RuleSet, error) {
	id = strings.ToUpper(strings.TrimSpace(id))
	known := false
	for _, x := range IDs() {
		known = known || x == id
	}
	if !known {
		return nil, fmt.Errorf("no shipped rule set %q (have %s)", id, strings.Join(IDs(), ", "))
	}
	mu.Lock()
	l := cache[id]
	if l == nil {
		l = &loaded{}
		cache[id] = l
	}
	mu.Unlock()
	l.once.Do(func() { l.rs, l.err = rules.Load(FS(), id) })
	return l.rs, l.err
}

// Service returns a copy of a shipped rule set's service definition.
func Service(id string) (*domain.ServiceDef, error) {
	rs, err := Load(id)
	if err != nil {
		return nil, err
	}
	s := rs.Service
	s.Indicators = append([]domain.IndicatorDef(nil), s.Indicators...)
	s.Payment = append([]domain.PaymentParams(nil), s.Payment...)
	return &s, nil
}

// Clusters returns the shipped sample cluster file, parsed.
func Clusters() (*rules.Clusters, error) {
	b, err := fs.ReadFile(FS(), rules.ClusterFile)
	if err != nil {
		return nil, err
	}
	return rules.ParseClusters(rules.ClusterFile, strings.NewReader(string(b)))
}
