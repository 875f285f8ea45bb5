package rulesets

import (
	"testing"
)

func TestShippedRuleSetsLoad(t *testing.T) {
	for _, id := range IDs() {
		rs, err := Load(id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if rs.Service.ID != id {
			t.Errorf("directory %s holds service %s", id, rs.Service.ID)
		}
	}
}
