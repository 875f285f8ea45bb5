package clinical

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"gpcollections/domain"
)

// randomBatch builds n patients with about ev events each through Builder.
func randomBatch(t testing.TB, n, ev int, seed uint64) *Batch {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	units := []string{"", "mm[Hg]", "mmol/mol", "kg/m2", "µmol/L"}
	bl := NewBuilder("A81001")
	for i := range n {
		birth := domain.DateOf(1930+rng.IntN(95), 1, 1+rng.IntN(365))
		p := Patient{ID: fmt.Sprintf("p%07d", i), NHSNumber: fmt.Sprintf("%010d", rng.Uint64()%1e10),
			Birth: birth, Death: domain.NoDate, Sex: Sex(rng.IntN(4))}
		if rng.IntN(40) == 0 {
			p.Death = birth.AddDays(rng.IntN(30000))
		}
		for range rng.IntN(3) {
			end := domain.NoDate
			if rng.IntN(2) == 0 {
				end = birth.AddDays(9000)
			}
			p.Regs = append(p.Regs, Registration{Practice: []string{"A81001", "B82002"}[rng.IntN(2)], Start: birth.AddDays(rng.IntN(9000)), End: end, Type: []string{"regular", "temporary", ""}[rng.IntN(3)]})
		}
		for j := range rng.IntN(2*ev + 1) {
			e := Event{Date: birth.AddDays(rng.IntN(30000)), Code: Code(100000 + rng.IntN(300)), Kind: Kind(1 + rng.IntN(5)), Seq: uint32(j)}
			if e.Kind == KindObservation {
				e.NVal = uint8(rng.IntN(3))
				if e.NVal > 0 {
					e.V1 = float32(rng.NormFloat64() * 100)
					e.Unit = units[rng.IntN(len(units))]
				}
				if e.NVal > 1 {
					e.V2 = float32(rng.NormFloat64() * 100)
				}
			}
			p.Events = append(p.Events, e)
		}
		if err := bl.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	return bl.Build()
}

func TestBatchEncodingRoundTrips(t *testing.T) {
	for name, b := range map[string]*Batch{
		"empty":       NewBuilder("").Build(),
		"one patient": randomBatch(t, 1, 5, 1),
		"long strings": {Practice: strings.Repeat("P", 200), Units: []string{strings.Repeat("u", 129), "kg"},
			Patients: []PatientRow{{ID: strings.Repeat("i", 300), NHSNumber: "1", Birth: 1, Death: domain.NoDate, RegEnd: 2},
				{ID: "x", NHSNumber: strings.Repeat("n", 70000), Birth: 2, Death: domain.NoDate, RegStart: 2, RegEnd: 3}},
			Regs: []Registration{{Practice: strings.Repeat("r", 128), Type: "t"}, {Type: strings.Repeat("t", 127)}, {Practice: "p"}}},
		"practice": randomBatch(t, 500, 30, 2),
		"special values": {Practice: "Ä1", Codes: []Code{math.MaxUint64}, Units: []string{""},
			Patients: []PatientRow{{ID: "", Birth: domain.NoDate, Death: math.MaxInt32, EvEnd: 1, RegEnd: 1}},
			Events:   []EventRow{{Date: domain.NoDate, V1: float32(math.Inf(-1)), V2: float32(math.NaN()), Kind: KindMedication, NVal: 2, Unit: 1}},
			Regs:     []Registration{{Start: domain.NoDate, End: domain.NoDate}}},
	} {
		data, err := b.MarshalBinary()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := UnmarshalBatch(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// NaN is never equal to itself: compare the bits of the values.
		if name == "special values" {
			if math.Float32bits(got.Events[0].V2) != math.Float32bits(b.Events[0].V2) {
				t.Errorf("NaN changed")
			}
			got.Events[0].V2, b.Events[0].V2 = 0, 0
		}
		if !reflect.DeepEqual(got, b) {
			t.Errorf("%s: round trip differs\n got %+v\nwant %+v", name, got, b)
		}
		var buf bytes.Buffer
		if n, err := b.WriteTo(&buf); err != nil || n != int64(len(data)) {
			t.Fatalf("%s: WriteTo %d %v", name, n, err)
		}
		streamed, err := ReadBatch(iotest.OneByteReader(&buf))
		if err != nil || !reflect.DeepEqual(streamed, got) {
			t.Errorf("%s: ReadBatch %v", name, err)
		}
	}
}

func TestEncodingRefusesMalformedBatches(t *testing.T) {
	good := func() *Batch {
		bl := NewBuilder("A81001")
		for _, p := range []Patient{
			{ID: "a", Birth: 1, Death: domain.NoDate, Events: []Event{{Date: 10, Code: 123456, Kind: KindCondition}, {Date: 20, Code: 123457, Kind: KindObservation, NVal: 1, V1: 5, Unit: "kg"}}},
			{ID: "b", Birth: 1, Death: domain.NoDate, Events: []Event{{Date: 10, Code: 123456, Kind: KindCondition}}},
		} {
			if err := bl.Add(p); err != nil {
				t.Fatal(err)
			}
		}
		return bl.Build()
	}
	if _, err := good().MarshalBinary(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(b *Batch){
		"gap in events":      func(b *Batch) { b.Patients[1].EvStart++ },
		"events left over":   func(b *Batch) { b.Events = append(b.Events, b.Events[0]) },
		"code out of range":  func(b *Batch) { b.Events[0].Code = uint32(len(b.Codes)) },
		"unit out of range":  func(b *Batch) { b.Events[0].Unit = uint16(len(b.Units) + 1) },
		"unknown kind":       func(b *Batch) { b.Events[0].Kind = 0 },
		"three values":       func(b *Batch) { b.Events[0].NVal = 3 },
		"events out of date": func(b *Batch) { b.Events[0].Date = 30 },
		"unknown sex":        func(b *Batch) { b.Patients[0].Sex = 9 },
	}
	for name, spoil := range cases {
		b := good()
		spoil(b)
		if _, err := b.MarshalBinary(); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
}

// Every truncation and every single-byte corruption is reported as a bad
// batch: never a panic, never accepted.
func TestCorruptOrTruncatedBatchesAreRefused(t *testing.T) {
	data, err := randomBatch(t, 40, 10, 4).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(data); n++ {
		if _, err := UnmarshalBatch(data[:n]); !errors.Is(err, ErrBadBatch) {
			t.Fatalf("truncated to %d bytes: %v", n, err)
		}
		if _, err := ReadBatch(bytes.NewReader(data[:n])); !errors.Is(err, ErrBadBatch) {
			t.Fatalf("ReadBatch truncated to %d bytes: %v", n, err)
		}
	}
	for i := range data {
		bad := bytes.Clone(data)
		bad[i] ^= 0x40
		if _, err := UnmarshalBatch(bad); !errors.Is(err, ErrBadBatch) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
	if _, err := UnmarshalBatch(append(bytes.Clone(data), 0)); !errors.Is(err, ErrBadBatch) {
		t.Errorf("extra byte accepted")
	}
	// The practice code's length written in two bytes instead of one.
	meta := sectionBody(t, data, "META")
	long := replaceSection(t, data, "META", append([]byte{meta[0] | 0x80, 0x00}, meta[1:]...))
	if _, err := UnmarshalBatch(long); err == nil || !bytes.Contains([]byte(err.Error()), []byte("META: bad length")) {
		t.Errorf("non-shortest varint: %v", err)
	}
	old := bytes.Clone(data)
	binary.LittleEndian.PutUint32(old[8:], 1)
	if _, err := UnmarshalBatch(old); err == nil || !bytes.Contains([]byte(err.Error()), []byte("format version 1, this program reads version 2")) {
		t.Errorf("other version: %v", err)
	}
	// Non-zero padding or reserved bytes, even with a good checksum: a
	// batch has exactly one encoding.
	for _, at := range []int{headerLen + 4, headerLen + sectionHead + len(meta)} {
		bad := bytes.Clone(data)
		bad[at] = 1
		resum(bad)
		if _, err := UnmarshalBatch(bad); !errors.Is(err, ErrBadBatch) || !bytes.Contains([]byte(err.Error()), []byte("not zero")) {
			t.Errorf("byte %d set: %v", at, err)
		}
	}
}

// sectionAt returns where the body of the section with the tag starts,
// and its length.
func sectionAt(t testing.TB, data []byte, tag string) (int, int) {
	t.Helper()
	for at := headerLen; at+sectionHead <= len(data); {
		n := int(binary.LittleEndian.Uint64(data[at+8:]))
		if string(data[at:at+4]) == tag {
			return at + sectionHead, n
		}
		at += sectionHead + n + pad8(n)
	}
	t.Fatalf("no section %s", tag)
	return 0, 0
}

func sectionBody(t testing.TB, data []byte, tag string) []byte {
	t.Helper()
	at, n := sectionAt(t, data, tag)
	return data[at : at+n]
}

// replaceSection swaps a section's body, fixing its padding, the payload
// length and the checksum.
func replaceSection(t testing.TB, data []byte, tag string, body []byte) []byte {
	t.Helper()
	at, n := sectionAt(t, data, tag)
	out := append([]byte(nil), data[:at]...)
	binary.LittleEndian.PutUint64(out[at-8:], uint64(len(body)))
	out = append(out, body...)
	out = append(out, make([]byte, pad8(len(body)))...)
	out = append(out, data[at+n+pad8(n):]...)
	binary.LittleEndian.PutUint64(out[16:], uint64(len(out)-headerLen))
	resum(out)
	return out
}

// A payload with a valid checksum but lying counts must still be refused
// without a large allocation.
func TestLyingCountsAreRefused(t *testing.T) {
	data, _ := NewBuilder("X").Build().MarshalBinary()
	// META is the first section: tag, length, practice "X" (2 bytes), then
	// the counts. Claim a billion events and patients.
	meta := headerLen + sectionHead + 2
	for _, field := range []int{0, 1, 2, 3, 4} {
		bad := bytes.Clone(data)
		binary.LittleEndian.PutUint32(bad[meta+4*field:], 1<<30)
		resum(bad)
		for how, decode := range map[string]func([]byte) (*Batch, error){
			"owned":  UnmarshalBatch,
			"shared": func(d []byte) (*Batch, error) { return UnmarshalBatchShared(d, func() {}) },
		} {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			// Averaged over runs: the allocation count is process-wide, and a
			// single run can catch one made by the runtime meanwhile (seen
			// once in CI as 21).
			allocs := testing.AllocsPerRun(10, func() {
				if _, err := decode(bad); !errors.Is(err, ErrBadBatch) {
					t.Fatalf("%s, count %d: %v", how, field, err)
				}
			})
			runtime.ReadMemStats(&after)
			if allocs > 20 || after.TotalAlloc-before.TotalAlloc > 1<<20 {
				t.Errorf("%s, count %d: %v allocations, %d bytes", how, field, allocs, after.TotalAlloc-before.TotalAlloc)
			}
		}
	}
}

// Events or registrations with no patients at all to own them are refused
// (a well-formed checksum notwithstanding).
func TestOrphanRowsAreRefused(t *testing.T) {
	data, err := randomBatch(t, 1, 5, 3).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	meta := bytes.Clone(sectionBody(t, data, "META"))
	binary.LittleEndian.PutUint32(meta[len(meta)-12:], 0) // patients
	bad := replaceSection(t, replaceSection(t, data, "META", meta), "PATS", nil)
	if _, err := UnmarshalBatch(bad); !errors.Is(err, ErrBadBatch) || !strings.Contains(err.Error(), "without patients") {
		t.Errorf("orphan rows: %v", err)
	}
}

// resum recomputes the header checksum after a deliberate change.
func resum(data []byte) {
	binary.LittleEndian.PutUint32(data[12:], crc32.Checksum(data[headerLen:], castagnoli))
}

func FuzzUnmarshalBatch(f *testing.F) {
	for i, b := range []*Batch{NewBuilder("").Build(), randomBatch(f, 2, 3, 5), randomBatch(f, 5, 4, 6)} {
		data, err := b.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, data []byte, fixSum bool) {
		// Fixing the checksum lets the fuzzer reach the section parser.
		if fixSum && len(data) >= headerLen {
			resum(data)
		}
		b, err := UnmarshalBatch(data)
		// Decoding in place (whether or not the rows can be used in place
		// here) accepts and refuses the same data.
		shared, serr := UnmarshalBatchShared(bytes.Clone(data), nil)
		if (err == nil) != (serr == nil) {
			t.Fatalf("owned and shared decoding differ: %v, %v", err, serr)
		}
		if serr == nil {
			if again, err := shared.MarshalBinary(); err != nil || !bytes.Equal(again, data) {
				t.Fatalf("shared decoding re-encodes differently: %v", err)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrBadBatch) {
				t.Fatalf("error not marked as a bad batch: %v", err)
			}
			return
		}
		// Whatever decodes is a well-formed batch that encodes back to
		// the same bytes.
		again, err := b.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded batch does not encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// BenchmarkUnmarshalBatch decodes a 10,000-patient batch (in cache):
// into memory of its own; in place (as a mapped cache file is); and in
// place, released each time, as a collection's practices are loaded one
// after another.
func BenchmarkUnmarshalBatch(b *testing.B) {
	data, err := randomBatch(b, 10_000, 50, 7).MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	for _, bench := range []struct {
		name   string
		decode func() (*Batch, error)
	}{
		{"owned", func() (*Batch, error) { return UnmarshalBatch(data) }},
		{"shared", func() (*Batch, error) { return UnmarshalBatchShared(data, nil) }},
		{"shared-released", func() (*Batch, error) { return UnmarshalBatchShared(data, func() {}) }},
	} {
		b.Run(bench.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				bt, err := bench.decode()
				if err != nil {
					b.Fatal(err)
				}
				bt.Release()
			}
		})
	}
}

func BenchmarkMarshalBatch(b *testing.B) {
	bt := randomBatch(b, 10_000, 50, 7)
	for b.Loop() {
		if _, err := bt.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
}
