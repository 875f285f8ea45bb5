package rules

import (
	"reflect"
	"testing"
)

// TestEmptyClustersNameWhatTheySilence: a cluster with no codes in the
// loaded file is reported with the fields it alone defines and the lists
// whose rules read them or test it; a field over several clusters still
// matches through the others and is not reported.
func TestEmptyClustersNameWhatTheySilence(t *testing.T) {
	clusters := testClusters + "HC_COD,999015851000230100,,no member in this sample\nXX_COD,1,,no member\n"
	rs, err := Parse(map[string]string{"service.rules": testService, "x.rules": `
field HC   = count HC_COD on or after PSD
field EITHER = last DM_COD, XX_COD
field LAT  = last DM_COD
register R "r"
  rule 1 if LAT then select else reject
end
indicator A "reads the empty field"
  kind count
  rule 1 if HC.count > 0 then select else reject
end
indicator B "tests the empty cluster directly"
  kind count
  rule 1 if LAT.code in XX_COD then select else reject
end
indicator C "unaffected"
  kind count
  rule 1 if EITHER then select else reject
end
`}, "clusters.csv", clusters)
	if err != nil {
		t.Fatal(err)
	}
	got := rs.EmptyClusters()
	want := []EmptyCluster{
		{Cluster: "HC_COD", Fields: []string{"HC"}, Lists: []string{"A"}},
		{Cluster: "XX_COD", Lists: []string{"B"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if s := got[0].String(); s != "cluster HC_COD has no member codes in the cluster file: field HC never matches; affects A" {
		t.Fatalf("message %q", s)
	}
	full, err := Parse(map[string]string{"service.rules": testService, "x.rules": "field LAT = last DM_COD\n"}, "clusters.csv", testClusters)
	if err != nil {
		t.Fatal(err)
	}
	if e := full.EmptyClusters(); len(e) != 0 {
		t.Fatalf("a rule set whose clusters all have codes reports %v", e)
	}
}
