package main

import (
	"strings"
	"testing"
)

// Approving a declaration the practice has not declared yet: the preview
// says there is nothing to approve, and does not offer a command line with
// an empty --hash (there is no declared hash to review).
func TestApprovePreviewOfAnUndeclaredDeclaration(t *testing.T) {
	data := workflowData(t)
	mustGPC(t, "offer", "--service", "WFT", "--data", data, "--as", "carl")
	mustGPC(t, "accept", "--service", "WFT", "--practice", "A81001", "--data", data, "--as", "ann")
	extractInto(t, data, 1, 90)
	for _, verb := range []string{"approve", "finance-approve"} {
		as := map[string]string{"approve": "carl", "finance-approve": "fin"}[verb]
		out, err := gpc(t, verb, "--service", "WFT", "--date", "2026-03-31", "--practice", "A81001", "--data", data, "--as", as)
		if err == nil {
			t.Fatalf("%s preview of an undeclared declaration decided something:\n%s", verb, out)
		}
		if strings.Contains(err.Error(), "--hash \n") || strings.HasSuffix(err.Error(), "--hash ") || strings.Contains(out, "declared hash \n") {
			t.Errorf("%s preview offers an empty declared hash:\n%s\nerror: %v", verb, out, err)
		}
		if !strings.Contains(err.Error(), "not declared") {
			t.Errorf("%s preview does not say the declaration is not declared: %v", verb, err)
		}
	}
}
