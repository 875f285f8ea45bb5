package domain

import (
	"fmt"
	"regexp"
	"sort"
)

// Frequency is how often a service is collected.
type Frequency string

const (
	Monthly   Frequency = "monthly"
	Quarterly Frequency = "quarterly"
	Annual    Frequency = "annual" // one year-end achievement date
)

// ServiceKind decides how achievement becomes money.
type ServiceKind string

const (
	// KindPoints services (QOF) pay points on a threshold scale.
	KindPoints ServiceKind = "points"
	// KindItemOfService services pay a fee per counted event.
	KindItemOfService ServiceKind = "item-of-service"
)

// IndicatorKind is what an indicator counts.
type IndicatorKind string

const (
	// Register indicators count a disease register (no points in 2025/26,
	// but the register drives prevalence).
	IndRegister IndicatorKind = "register"
	// Achievement indicators have a denominator, numerator and reasons.
	IndAchievement IndicatorKind = "achievement"
	// Count indicators count events for an item-of-service fee.
	IndCount IndicatorKind = "count"
)

// EntryMethod says where an indicator's values come from.
type EntryMethod string

const (
	EntryAutomatic EntryMethod = "automatic"
	EntryManual    EntryMethod = "manual"
)

// Output field names, in the shape of NHS Digital's INDICATOR_VALUES.
const (
	FieldRegister    = "REGISTER"
	FieldDenominator = "DENOMINATOR"
	FieldNumerator   = "NUMERATOR"
	FieldCount       = "COUNT"
)

// IndicatorDef is one indicator's metadata, loaded from a rule file.
type IndicatorDef struct {
	ID          string        `json:"id"`
	Description string        `json:"description"`
	Group       string        `json:"group,omitempty"`
	Domain      string        `json:"domain,omitempty"`
	Kind        IndicatorKind `json:"kind"`
	Entry       EntryMethod   `json:"entry"`
	// Points is the maximum points; thresholds are in hundredths of a
	// percent (4000 = 40%). Zero thresholds with non-zero points mean the
	// figure is missing from the facts table (see Note).
	Points int `json:"points,omitempty"`
	Lower  int `json:"lower,omitempty"`
	Upper  int `json:"upper,omitempty"`
	// Register names the register indicator this one draws from; its count
	// gives the practice prevalence for prevalence-based indicators.
	Register        string `json:"register,omitempty"`
	PrevalenceBased bool   `json:"prevalenceBased,omitempty"`
	// Reasons are the exception / PCA reason field names, in rule order.
	Reasons []string `json:"reasons,omitempty"`
	// CapIndicator names an indicator whose COUNT (or REGISTER) caps this
	// one's payable count (learning disability checks <= register size).
	CapIndicator string `json:"capIndicator,omitempty"`
	Source       string `json:"source,omitempty"`
	Note         string `json:"note,omitempty"`
}

// Fields lists the output fields in their fixed order.
func (d IndicatorDef) Fields() []string {
	switch d.Kind {
	case IndRegister:
		return []string{FieldRegister}
	case IndCount:
		return []string{FieldCount}
	}
	f := []string{FieldRegister, FieldDenominator, FieldNumerator}
	return append(f, d.Reasons...)
}

// PaymentParams are the money figures of a service; they are versioned data
// so a correction (the 2013/14 CPI error) is a new version, not a code change.
type PaymentParams struct {
	Version       int  `json:"version"`
	EffectiveFrom Date `json:"effectiveFrom"`
	// PencePerPoint is the value of one point (QOF 2025/26: 22549).
	PencePerPoint Pence `json:"pencePerPoint,omitempty"`
	// NationalAvgListSize divides a practice list size to give CPI.
	NationalAvgListSize int64 `json:"nationalAvgListSize,omitempty"`
	// NationalPrevalence per register indicator id.
	NationalPrevalence map[string]Ratio `json:"nationalPrevalence,omitempty"`
	// Fees per count indicator id, for item-of-service services.
	Fees map[string]Pence `json:"fees,omitempty"`
	// AspirationShare of the prior year's unadjusted achievement paid
	// monthly in advance (80% in 2024/25).
	AspirationShare Ratio `json:"aspirationShare,omitempty"`
	// ListSizeDate is the month and day (MM-DD) whose list size counts,
	// e.g. "01-01" for 1 January in the service year.
	ListSizeDate string `json:"listSizeDate,omitempty"`
	// FactorDecimals, when > 0, rounds CPI and the prevalence factor to that
	// many decimals before multiplying, as some published worked examples
	// do; 0 keeps them exact.
	FactorDecimals int    `json:"factorDecimals,omitempty"`
	Source         string `json:"source,omitempty"`
	Note           string `json:"note,omitempty"`
}

// ServiceDef is one year's quality service.
type ServiceDef struct {
	ID        string      `json:"id"`
	Name      string      `json:"name"`
	Year      string      `json:"year"`
	Start     Date        `json:"start"`
	End       Date        `json:"end"`
	Frequency Frequency   `json:"frequency"`
	Kind      ServiceKind `json:"kind"`
	// DeclarationRequired false means "No Declaration Required".
	DeclarationRequired bool `json:"declarationRequired"`
	// ApprovalRequired false means "No Approval Required".
	ApprovalRequired bool `json:"approvalRequired"`
	// AutoAccept services are accepted on the practices' behalf.
	AutoAccept  bool   `json:"autoAccept"`
	RequestedBy string `json:"requestedBy,omitempty"`
	// PriorYear names the service whose achievement sets this one's
	// aspiration payments (QOF2526 -> QOF2425).
	PriorYear   string          `json:"priorYear,omitempty"`
	Indicators  []IndicatorDef  `json:"indicators"`
	Payment     []PaymentParams `json:"payment"`
	RuleSetHash string          `json:"ruleSetHash,omitempty"`
	Source      string          `json:"source,omitempty"`
}

var serviceIDPattern = regexp.MustCompile(`^[A-Z][A-Z0-9]{1,15}$`)

// Indicator finds an indicator by id.
func (s *ServiceDef) Indicator(id string) (IndicatorDef, bool) {
	for _, d := range s.Indicators {
		if d.ID == id {
			return d, true
		}
	}
	return IndicatorDef{}, false
}

// ParamsOn returns the payment parameters in force on date d: the latest
// version whose EffectiveFrom is not after d.
func (s *ServiceDef) ParamsOn(d Date) (PaymentParams, bool) {
	var best PaymentParams
	found := false
	for _, p := range s.Payment {
		if p.EffectiveFrom <= d && (!found || p.Version > best.Version) {
			best, found = p, true
		}
	}
	return best, found
}

// LatestParams is the highest version.
func (s *ServiceDef) LatestParams() (PaymentParams, bool) {
	var best PaymentParams
	found := false
	for _, p := range s.Payment {
		if !found || p.Version > best.Version {
			best, found = p, true
		}
	}
	return best, found
}

// Validate checks a service definition is internally consistent.
func (s *ServiceDef) Validate() error {
	if !serviceIDPattern.MatchString(s.ID) {
		return fmt.Errorf("service id %q: want upper-case letters and digits, e.g. QOF2526", s.ID)
	}
	if !s.Start.Valid() || !s.End.Valid() || s.End < s.Start {
		return fmt.Errorf("service %s: start %s and end %s do not make a period", s.ID, s.Start, s.End)
	}
	switch s.Frequency {
	case Monthly, Quarterly, Annual:
	default:
		return fmt.Errorf("service %s: frequency %q is not monthly, quarterly or annual", s.ID, s.Frequency)
	}
	switch s.Kind {
	case KindPoints, KindItemOfService:
	default:
		return fmt.Errorf("service %s: kind %q is not points or item-of-service", s.ID, s.Kind)
	}
	seen := map[string]bool{}
	for _, d := range s.Indicators {
		if d.ID == "" {
			return fmt.Errorf("service %s: an indicator has no id", s.ID)
		}
		if seen[d.ID] {
			return fmt.Errorf("service %s: indicator %s defined twice", s.ID, d.ID)
		}
		seen[d.ID] = true
		if d.Lower < 0 || d.Upper > 10000 || (d.Upper != 0 && d.Lower > d.Upper) {
			return fmt.Errorf("service %s: indicator %s thresholds %d..%d (hundredths of %%) are not 0 <= lower <= upper <= 10000", s.ID, d.ID, d.Lower, d.Upper)
		}
	}
	for _, d := range s.Indicators {
		if d.Register != "" && !seen[d.Register] {
			return fmt.Errorf("service %s: indicator %s refers to unknown register %s", s.ID, d.ID, d.Register)
		}
		if d.CapIndicator != "" && !seen[d.CapIndicator] {
			return fmt.Errorf("service %s: indicator %s capped by unknown indicator %s", s.ID, d.ID, d.CapIndicator)
		}
	}
	versions := map[int]bool{}
	for _, p := range s.Payment {
		if versions[p.Version] {
			return fmt.Errorf("service %s: payment parameters version %d defined twice", s.ID, p.Version)
		}
		versions[p.Version] = true
		if p.PencePerPoint < 0 || p.NationalAvgListSize < 0 {
			return fmt.Errorf("service %s: payment parameters version %d have a negative figure", s.ID, p.Version)
		}
		for id, fee := range p.Fees {
			if !seen[id] || fee < 0 {
				return fmt.Errorf("service %s: fee for %q: unknown indicator or negative fee", s.ID, id)
			}
		}
	}
	return nil
}

// ManualFields lists (indicator, field) pairs that are entered by hand.
func (s *ServiceDef) ManualFields() [][2]string {
	var out [][2]string
	for _, d := range s.Indicators {
		if d.Entry != EntryManual {
			continue
		}
		for _, f := range d.Fields() {
			out = append(out, [2]string{d.ID, f})
		}
	}
	return out
}

// IndicatorValue is one row of INDICATOR_VALUES: the unit of an extract.
type IndicatorValue struct {
	Service   string `json:"QUALITY_SERVICE"`
	Practice  string `json:"ORG_CODE"`
	AchDate   Date   `json:"ACH_DATE"`
	Indicator string `json:"IND_CODE"`
	Field     string `json:"FIELD_NAME"`
	Value     int64  `json:"VALUE"`
}

// SortValues orders rows by practice, indicator, then field, the one order
// used for output and hashing.
func SortValues(v []IndicatorValue) {
	sort.Slice(v, func(i, j int) bool {
		a, b := v[i], v[j]
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		if a.Practice != b.Practice {
			return a.Practice < b.Practice
		}
		if a.AchDate != b.AchDate {
			return a.AchDate < b.AchDate
		}
		if a.Indicator != b.Indicator {
			return a.Indicator < b.Indicator
		}
		return a.Field < b.Field
	})
}
