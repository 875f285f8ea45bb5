package domain

import (
	"reflect"
	"testing"
)

func TestCompareValuesReportsEveryDifferenceAndCountsAgreement(t *testing.T) {
	collected := []FieldValue{
		{"DM017", "REGISTER", 400}, {"DM020", "DENOMINATOR", 300}, {"DM020", "NUMERATOR", 200}, {"DM020", "OLDREASON", 3},
	}
	current := []FieldValue{
		{"DM020", "NUMERATOR", 207}, {"DM017", "REGISTER", 400}, {"DM020", "DENOMINATOR", 300}, {"DM020", "NEWREASON", 1},
	}
	diffs, same := CompareValues(collected, current)
	want := []FieldDiff{
		{Indicator: "DM020", Field: "NEWREASON", Current: 1, HasCurrent: true},
		{Indicator: "DM020", Field: "NUMERATOR", Collected: 200, Current: 207, HasCollected: true, HasCurrent: true},
		{Indicator: "DM020", Field: "OLDREASON", Collected: 3, HasCollected: true},
	}
	if same != 2 || !reflect.DeepEqual(diffs, want) {
		t.Fatalf("same %d diffs %+v", same, diffs)
	}
	if d, s := CompareValues(current, current); len(d) != 0 || s != 4 {
		t.Fatalf("identical: %v %d", d, s)
	}
	if d, s := CompareValues(nil, current); len(d) != 4 || s != 0 || d[0].HasCollected {
		t.Fatalf("nothing collected: %v %d", d, s)
	}
}
