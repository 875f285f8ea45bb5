package clinical

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"gpcollections/domain"
)

func TestChecksumsCombineAsTheirConcatenation(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for _, cut := range []int{0, 1, 7, 8, 4095, 65536, len(data) - 1, len(data)} {
		a, b := data[:cut], data[cut:]
		want := crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))
		if got := crc32Combine(checksum(a), checksum(b), uint64(len(b))); got != want {
			t.Errorf("cut at %d: %08x, want %08x", cut, got, want)
		}
	}
	// Three parts, as the decoder sums prefix, events and suffix.
	a, b, c := data[:100], data[100:700_001], data[700_001:]
	got := crc32Combine(crc32Combine(checksum(a), checksum(b), uint64(len(b))), checksum(c), uint64(len(c)))
	if got != checksum(data) {
		t.Errorf("three parts: %08x, want %08x", got, checksum(data))
	}
}

// The EVTS row format is EventRow's memory layout on little-endian hosts:
// if the struct changes, rows stop being used in place and this fails.
func TestEventRowLayoutIsTheRowFormat(t *testing.T) {
	var r EventRow
	got := []uintptr{unsafe.Sizeof(r), unsafe.Offsetof(r.Date), unsafe.Offsetof(r.Code), unsafe.Offsetof(r.V1),
		unsafe.Offsetof(r.V2), unsafe.Offsetof(r.Kind), unsafe.Offsetof(r.NVal), unsafe.Offsetof(r.Unit)}
	if want := []uintptr{rowLen, 0, 4, 8, 12, 16, 17, 18}; !reflect.DeepEqual(got, want) {
		t.Fatalf("EventRow size and offsets %v, want %v", got, want)
	}
	r = EventRow{Date: -5, Code: 0x01020304, V1: 1.5, V2: -2, Kind: KindObservation, NVal: 2, Unit: 0x0a0b}
	enc := appendRow(nil, &r)
	if readRow(enc) != r {
		t.Errorf("readRow(appendRow(r)) = %+v", readRow(enc))
	}
	if nativeRows {
		mem := unsafe.Slice((*byte)(unsafe.Pointer(&r)), rowLen)
		if !bytes.Equal(mem, enc) {
			t.Errorf("native row % x, encoded % x", mem, enc)
		}
	} else if runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64" {
		t.Errorf("rows are not used in place on %s", runtime.GOARCH)
	}
}

// eventsAt is where the batch's first event row is in data, or -1.
func eventsAt(b *Batch, data []byte) int {
	if len(b.Events) == 0 {
		return -1
	}
	p := uintptr(unsafe.Pointer(&b.Events[0]))
	base := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	if p < base || p >= base+uintptr(len(data)) {
		return -1
	}
	return int(p - base)
}

func TestSharedDecodingUsesTheRowsInPlace(t *testing.T) {
	want := randomBatch(t, 300, 20, 9)
	data, err := want.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	evAt, _ := sectionAt(t, data, "EVTS")
	if evAt%8 != 0 {
		t.Errorf("events at offset %d, not 8-byte aligned", evAt)
	}
	released := 0
	shared, err := UnmarshalBatchShared(data, func() { released++ })
	if err != nil {
		t.Fatal(err)
	}
	if nativeRows && eventsAt(shared, data) != evAt {
		t.Errorf("shared batch's events are at %d in the data, want %d (in place)", eventsAt(shared, data), evAt)
	}
	owned, err := UnmarshalBatch(data)
	if err != nil {
		t.Fatal(err)
	}
	if eventsAt(owned, data) != -1 {
		t.Error("UnmarshalBatch's events alias the data")
	}
	for name, got := range map[string]*Batch{"shared": shared, "owned": owned} {
		if !sameBatch(got, want) {
			t.Errorf("%s batch differs", name)
		}
	}

	// Misaligned data is decoded into fresh rows.
	odd := make([]byte, len(data)+1)[1:]
	copy(odd, data)
	mis, err := UnmarshalBatchShared(odd, nil)
	if err != nil || !sameBatch(mis, want) || eventsAt(mis, odd) != -1 {
		t.Errorf("misaligned: %v, aliased at %d", err, eventsAt(mis, odd))
	}
	// So is every batch on a host whose layout differs (big-endian).
	foreign, err := decoders["foreign layout"](data)
	if err != nil || !sameBatch(foreign, want) || eventsAt(foreign, data) != -1 {
		t.Errorf("foreign layout: %v, aliased at %d", err, eventsAt(foreign, data))
	}

	// Release runs the release function once and drops the rows, which
	// the next batch decoded in place may reuse.
	shared.Release()
	shared.Release()
	if released != 1 || shared.Events != nil || shared.Patients != nil || shared.Regs != nil || shared.Practice != want.Practice {
		t.Errorf("after Release: released %d times, %d events, %d patients, %d registrations", released, len(shared.Events), len(shared.Patients), len(shared.Regs))
	}
	for range 3 {
		again, err := UnmarshalBatchShared(data, func() {})
		if err != nil || !sameBatch(again, want) {
			t.Fatalf("decoded again into released rows: %v", err)
		}
		again.Release()
	}
	owned.Release()
	if len(owned.Events) != len(want.Events) {
		t.Error("Release dropped an owned batch's events")
	}
}

// sameBatch compares the data of two batches (not how they hold it).
func sameBatch(a, b *Batch) bool {
	x, y := *a, *b
	x.release, y.release = nil, nil
	return reflect.DeepEqual(x, y)
}

// evenBatch has the same number of events for every patient, so that the
// decoder's parts begin exactly at a patient's first event.
func evenBatch(t testing.TB, patients, each int) *Batch {
	bl := NewBuilder("A81001")
	for i := range patients {
		p := Patient{ID: fmt.Sprintf("e%06d", i), Birth: domain.DateOf(1960, 1, 1), Death: domain.NoDate}
		for j := range each {
			p.Events = append(p.Events, Event{Date: domain.DateOf(2000, 1, 1+j+i%50), Code: Code(100 + j%7), Kind: KindCondition, Seq: uint32(j)})
		}
		if err := bl.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	return bl.Build()
}

var decoders = map[string]func([]byte) (*Batch, error){
	"owned":  UnmarshalBatch,
	"shared": func(d []byte) (*Batch, error) { return UnmarshalBatchShared(d, nil) },
	// As on a big-endian host: rows decoded one by one and checked field
	// by field.
	"foreign layout": func(d []byte) (*Batch, error) {
		defer func(was bool) { nativeRows = was }(nativeRows)
		nativeRows = false
		return UnmarshalBatchShared(d, nil)
	},
}

// A batch big enough to be checked by several goroutines, in several steps
// each: problems on the boundaries between parts and steps are found,
// patients that begin on a boundary are not compared with the one before,
// and corruption anywhere is found.
func TestLargeBatchesAreCheckedAcrossParts(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for name, want := range map[string]*Batch{"random": randomBatch(t, 5000, 30, 11), "even": evenBatch(t, 6000, 24)} {
		n := len(want.Events)
		if n/minPart+1 < 3 {
			t.Fatalf("%s: only %d events, too few for three parts", name, n)
		}
		data, err := want.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		evAt, _ := sectionAt(t, data, "EVTS")
		setRow := func(data []byte, row int, f func(*EventRow)) {
			r := readRow(data[evAt+rowLen*row:])
			f(&r)
			copy(data[evAt+rowLen*row:], appendRow(nil, &r))
		}
		// Patients beginning at or near each boundary, their events made
		// earlier than all others: still in order.
		early := bytes.Clone(data)
		for _, row := range []int{n / 4, n / 3, n / 2, 2 * n / 3, step, 2 * step} {
			p := want.Patients[patientOf(want, row)]
			for j := p.EvStart; j < p.EvEnd; j++ {
				setRow(early, int(j), func(r *EventRow) { r.Date = domain.NoDate + domain.Date(j-p.EvStart) })
			}
		}
		resum(early)
		// The first row of parts and steps, or the next that is not a
		// patient's first, moved before the row it follows.
		var disorders [][]byte
		var whose []string
		for _, row := range []int{n / 4, n / 3, n / 2, 2 * n / 3, 3 * n / 4, step, n/2 + step, n - 1} {
			for want.Patients[patientOf(want, row)].EvStart == uint32(row) {
				row++
			}
			bad := bytes.Clone(data)
			prev := readRow(bad[evAt+rowLen*(row-1):])
			setRow(bad, row, func(r *EventRow) { r.Date = prev.Date - 1 })
			resum(bad)
			disorders = append(disorders, bad)
			whose = append(whose, want.Patients[patientOf(want, row)].ID)
		}
		for procs := 1; procs <= 4; procs++ {
			runtime.GOMAXPROCS(procs)
			for how, decode := range decoders {
				got, err := decode(data)
				if err != nil || !sameBatch(got, want) {
					t.Fatalf("%s, %d cores, %s: round trip: %v", name, procs, how, err)
				}
				if _, err := decode(early); err != nil {
					t.Errorf("%s, %d cores, %s: patients starting early: %v", name, procs, how, err)
				}
				for i, bad := range disorders {
					_, err := decode(bad)
					if !errors.Is(err, ErrBadBatch) || !strings.Contains(err.Error(), "not in date order") || !strings.Contains(err.Error(), whose[i]) {
						t.Errorf("%s, %d cores, %s: disorder %d: %v", name, procs, how, i, err)
					}
				}
			}
		}
		// Out-of-range indexes in the last part, the sum fixed.
		for what, spoil := range map[string]func(r *EventRow){
			"code":        func(r *EventRow) { r.Code = uint32(len(want.Codes)) },
			"unit":        func(r *EventRow) { r.Unit = uint16(len(want.Units) + 1) },
			"kind 0":      func(r *EventRow) { r.Kind = 0 },
			"kind beyond": func(r *EventRow) { r.Kind = KindImmunisation + 1 },
			"nval":        func(r *EventRow) { r.NVal = 3 },
		} {
			bad := bytes.Clone(data)
			setRow(bad, n-2, spoil)
			resum(bad)
			for how, decode := range decoders {
				if _, err := decode(bad); !errors.Is(err, ErrBadBatch) || !strings.Contains(err.Error(), "out of range") {
					t.Errorf("%s, %s: %s: %v", name, how, what, err)
				}
			}
		}
		// A flipped bit in any part is a checksum mismatch.
		for _, row := range []int{0, n / 3, n/2 + 7, n - 1} {
			bad := bytes.Clone(data)
			bad[evAt+rowLen*row+9] ^= 0x10 // in V1: any value is valid
			if _, err := UnmarshalBatchShared(bad, nil); !errors.Is(err, ErrBadBatch) || !strings.Contains(err.Error(), "checksum") {
				t.Errorf("%s: bit flipped in row %d: %v", name, row, err)
			}
		}
	}
}

func patientOf(b *Batch, row int) int {
	for i, p := range b.Patients {
		if int(p.EvStart) <= row && row < int(p.EvEnd) {
			return i
		}
	}
	return -1
}

// Rows reused from released batches are not cleared first: the decoder
// sets each of these fields. A new field must be decoded (or cleared) too.
func TestDecoderSetsEveryField(t *testing.T) {
	for typ, want := range map[reflect.Type][]string{
		reflect.TypeFor[PatientRow]():   {"ID", "NHSNumber", "Birth", "Death", "Sex", "EvStart", "EvEnd", "RegStart", "RegEnd"},
		reflect.TypeFor[Registration](): {"Practice", "Start", "End", "Type"},
	} {
		var got []string
		for f := range typ.Fields() {
			got = append(got, f.Name)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s has fields %v; decodeSections sets %v", typ, got, want)
		}
	}
	// And a batch decoded into another's rows is the same as one decoded
	// into fresh ones.
	big, small := randomBatch(t, 400, 5, 21), randomBatch(t, 300, 5, 22)
	bigData, _ := big.MarshalBinary()
	smallData, _ := small.MarshalBinary()
	for range 3 {
		b, err := UnmarshalBatchShared(bigData, func() {})
		if err != nil {
			t.Fatal(err)
		}
		b.Release()
		s, err := UnmarshalBatchShared(smallData, func() {})
		if err != nil || !sameBatch(s, small) {
			t.Fatalf("decoded into reused rows: %v", err)
		}
		s.Release()
	}
}

// BenchmarkFold is the row check alone, on rows in cache.
func BenchmarkFold(b *testing.B) {
	bt := randomBatch(b, 2000, 50, 7)
	b.SetBytes(int64(rowLen * len(bt.Events)))
	for b.Loop() {
		var lim rowLimits
		for i := range bt.Patients {
			ev := bt.PatientEvents(i)
			if len(ev) > 0 {
				lim.fold(ev, int64(ev[0].Date))
			}
		}
		if !lim.ok(len(bt.Codes), len(bt.Units)) {
			b.Fatal("bad")
		}
	}
}
