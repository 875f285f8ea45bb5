package domain

import (
	"sort"
	"time"
)

// SourceLink ties a practice to its clinical-system source: the FHIR
// bulk-data directory the scheduler extracts from.
type SourceLink struct {
	Rev
	Practice string    `json:"practice"`
	Dir      string    `json:"dir"`
	LinkedBy string    `json:"linkedBy"`
	LinkedAt time.Time `json:"linkedAt"`
	// The last check of the directory: when, whether it was usable, and
	// what it found (or what is wrong with it).
	CheckedAt time.Time `json:"checkedAt,omitempty"`
	CheckOK   bool      `json:"checkOK,omitempty"`
	CheckNote string    `json:"checkNote,omitempty"`
}

// FieldDiff is one indicator field whose collected value and current value
// (from a check run) differ. A field absent on one side has Has... false.
type FieldDiff struct {
	Indicator    string `json:"indicator"`
	Field        string `json:"field"`
	Collected    int64  `json:"collected"`
	Current      int64  `json:"current"`
	HasCollected bool   `json:"hasCollected"`
	HasCurrent   bool   `json:"hasCurrent"`
}

// CheckRun is a practice's check of a collection against its clinical
// system now: the practice's current source extracted for the same
// achievement date and compared field by field with what was collected.
// Nothing collected is replaced; the latest check is kept with the
// collection.
type CheckRun struct {
	Rev
	Collection  uint64    `json:"collection"`
	Practice    string    `json:"practice"`
	RequestedBy string    `json:"requestedBy"`
	At          time.Time `json:"at"`
	// Against says what the current values were compared with: "extract
	// run 2", "manual entry" or "nothing collected".
	Against     string      `json:"against"`
	Run         int         `json:"run,omitempty"`
	SourceHash  string      `json:"sourceHash"`
	RuleSetHash string      `json:"ruleSetHash"`
	Patients    int         `json:"patients"`
	Same        int         `json:"same"`
	Diffs       []FieldDiff `json:"diffs,omitempty"`
	// Note carries what the extraction noticed (bad lines skipped).
	Note string `json:"note,omitempty"`
}

// CompareValues compares collected with current field by field. It returns
// the fields that differ (present on one side only, or with different
// values), ordered by indicator then field, and how many agree.
func CompareValues(collected, current []FieldValue) (diffs []FieldDiff, same int) {
	m := map[FieldKey]*FieldDiff{}
	for _, v := range collected {
		k := FieldKey{v.Indicator, v.Field}
		m[k] = &FieldDiff{Indicator: v.Indicator, Field: v.Field, Collected: v.Value, HasCollected: true}
	}
	for _, v := range current {
		k := FieldKey{v.Indicator, v.Field}
		d := m[k]
		if d == nil {
			d = &FieldDiff{Indicator: v.Indicator, Field: v.Field}
			m[k] = d
		}
		d.Current, d.HasCurrent = v.Value, true
	}
	for _, d := range m {
		if d.HasCollected && d.HasCurrent && d.Collected == d.Current {
			same++
			continue
		}
		diffs = append(diffs, *d)
	}
	sort.Slice(diffs, func(i, j int) bool {
		if diffs[i].Indicator != diffs[j].Indicator {
			return diffs[i].Indicator < diffs[j].Indicator
		}
		return diffs[i].Field < diffs[j].Field
	})
	return diffs, same
}
