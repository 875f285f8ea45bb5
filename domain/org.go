package domain

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// OrgKind is the kind of organisation.
type OrgKind string

const (
	OrgPractice     OrgKind = "practice"
	OrgCommissioner OrgKind = "commissioner"
	OrgNational     OrgKind = "national"
	OrgRequester    OrgKind = "requester"
)

// NationalCode is the one national administrator organisation (NHS England's
// GP Collections service).
const NationalCode = "X26"

var (
	// Practice ODS codes: a letter and five digits (A81001).
	practiceCode = regexp.MustCompile(`^[A-Z][0-9]{5}$`)
	// Commissioner codes: ICB / region / sub-ICB codes of three characters
	// (QWE, 15N, Y56).
	commissionerCode = regexp.MustCompile(`^[A-Z0-9]{3}$`)
	// Requesting organisations: 3 to 8 letters or digits.
	requesterCode = regexp.MustCompile(`^[A-Z0-9]{3,8}$`)
)

// ValidateOrgCode checks code against the pattern for its kind.
func ValidateOrgCode(kind OrgKind, code string) error {
	switch kind {
	case OrgPractice:
		if !practiceCode.MatchString(code) {
			return fmt.Errorf("practice code %q: an ODS practice code is a capital letter and five digits, e.g. A81001", code)
		}
	case OrgCommissioner:
		if !commissionerCode.MatchString(code) {
			return fmt.Errorf("commissioner code %q: want three capital letters or digits, e.g. QWE", code)
		}
	case OrgNational:
		if code != NationalCode {
			return fmt.Errorf("national organisation code %q: the national administrator is %s", code, NationalCode)
		}
	case OrgRequester:
		if !requesterCode.MatchString(code) {
			return fmt.Errorf("requesting organisation code %q: want 3 to 8 capital letters or digits", code)
		}
	default:
		return fmt.Errorf("organisation kind %q: want practice, commissioner, national or requester", kind)
	}
	return nil
}

// ListSize is a practice's registered list size from a date onwards.
type ListSize struct {
	From Date  `json:"from"`
	Size int64 `json:"size"`
}

// Org is a practice, commissioner, the national administrator or a
// requesting organisation. A practice names its commissioner in Parent.
type Org struct {
	Rev
	Code      string     `json:"code"`
	Kind      OrgKind    `json:"kind"`
	Name      string     `json:"name"`
	Parent    string     `json:"parent,omitempty"`
	ListSizes []ListSize `json:"listSizes,omitempty"`
}

// Validate checks the organisation on its own (the parent's existence is the
// store's to check).
func (o *Org) Validate() error {
	if err := ValidateOrgCode(o.Kind, o.Code); err != nil {
		return err
	}
	if strings.TrimSpace(o.Name) == "" {
		return fmt.Errorf("organisation %s: a name is required", o.Code)
	}
	if o.Kind == OrgPractice {
		if err := ValidateOrgCode(OrgCommissioner, o.Parent); err != nil {
			return fmt.Errorf("practice %s: its commissioner: %w", o.Code, err)
		}
	} else if o.Parent != "" {
		return fmt.Errorf("organisation %s: only practices have a parent commissioner", o.Code)
	}
	for i, l := range o.ListSizes {
		if l.Size < 0 || !l.From.Valid() {
			return fmt.Errorf("organisation %s: list size %d (from %s) is not valid", o.Code, l.Size, l.From)
		}
		if i > 0 && l.From <= o.ListSizes[i-1].From {
			return fmt.Errorf("organisation %s: list sizes must be in date order; %s follows %s", o.Code, l.From, o.ListSizes[i-1].From)
		}
	}
	return nil
}

// SetListSize records a list size from a date, replacing one on the same date.
func (o *Org) SetListSize(from Date, size int64) {
	for i := range o.ListSizes {
		if o.ListSizes[i].From == from {
			o.ListSizes[i].Size = size
			return
		}
	}
	o.ListSizes = append(o.ListSizes, ListSize{From: from, Size: size})
	sort.Slice(o.ListSizes, func(i, j int) bool { return o.ListSizes[i].From < o.ListSizes[j].From })
}

// ListSizeOn is the list size in force on date d, and whether one was known.
func (o *Org) ListSizeOn(d Date) (int64, bool) {
	var size int64
	found := false
	for _, l := range o.ListSizes {
		if l.From <= d {
			size, found = l.Size, true
		}
	}
	return size, found
}
