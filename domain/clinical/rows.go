package clinical

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"unsafe"
)

// Checking a batch's event rows: the codec's structural validation (code,
// unit, kind and value-count indexes in range, each patient's events in
// date order), done together with the rows' checksum and spread over the
// cores, since a loaded batch is checked every time it is used.

// nativeRows reports whether EventRow's memory layout is the EVTS row
// format on this host (little-endian, no padding), so that encoded rows can
// be used in place.
var nativeRows = func() bool {
	var r EventRow
	return unsafe.Sizeof(r) == rowLen && unsafe.Offsetof(r.Date) == 0 && unsafe.Offsetof(r.Code) == 4 &&
		unsafe.Offsetof(r.V1) == 8 && unsafe.Offsetof(r.V2) == 12 && unsafe.Offsetof(r.Kind) == 16 &&
		unsafe.Offsetof(r.NVal) == 17 && unsafe.Offsetof(r.Unit) == 18 &&
		binary.NativeEndian.Uint16([]byte{1, 0}) == 1
}()

const (
	// minPart is the fewest rows worth a goroutine of their own.
	minPart = 64 << 10
	// step rows (320 KiB) are checked and then summed while they are still
	// in the core's cache: memory is read once.
	step = 16 << 10
)

// checkEvents checks b.Events, whose encoded form is src, and returns the
// CRC-32C of src. With fill, b.Events is a fresh slice to decode src into
// first; otherwise it is src itself.
func (b *Batch) checkEvents(src []byte, fill bool) (uint32, bool) {
	n := len(b.Events)
	parts := min(runtime.GOMAXPROCS(0), n/minPart+1)
	if parts <= 1 {
		return b.checkPart(src, fill, 0, n)
	}
	sums := make([]uint32, parts)
	oks := make([]bool, parts)
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := n*p/parts, n*(p+1)/parts
		wg.Go(func() { sums[p], oks[p] = b.checkPart(src, fill, lo, hi) })
	}
	wg.Wait()
	sum, ok := sums[0], oks[0]
	for p := 1; p < parts; p++ {
		lo, hi := n*p/parts, n*(p+1)/parts
		sum = crc32Combine(sum, sums[p], uint64(rowLen*(hi-lo)))
		ok = ok && oks[p]
	}
	return sum, ok
}

// checkPart checks rows [lo, hi) a step at a time: decoded if need be,
// checked, then summed.
func (b *Batch) checkPart(src []byte, fill bool, lo, hi int) (uint32, bool) {
	pats := b.Patients
	p := sort.Search(len(pats), func(i int) bool { return int(pats[i].EvEnd) > lo })
	var sum uint32
	var lim rowLimits
	for c := lo; c < hi; c += step {
		e := min(c+step, hi)
		if fill {
			b.decodeRows(src, c, e)
		}
		p = b.scanRows(&lim, src, p, c, e)
		sum = crc32Update(sum, src[c*rowLen:e*rowLen])
	}
	return sum, lim.ok(len(b.Codes), len(b.Units))
}

// decodeRows fills b.Events[lo:hi] from src.
func (b *Batch) decodeRows(src []byte, lo, hi int) {
	if nativeRows {
		dst := unsafe.Slice((*byte)(unsafe.Pointer(&b.Events[lo])), rowLen*(hi-lo))
		copy(dst, src[rowLen*lo:rowLen*hi])
		return
	}
	for i := lo; i < hi; i++ {
		b.Events[i] = readRow(src[rowLen*i:])
	}
}

// scanRows folds rows [lo, hi) into lim, patient by patient from p (the
// first patient whose events reach past lo), and returns the first patient
// whose events reach past hi. The date before lo is read from src, which
// another goroutine does not write.
func (b *Batch) scanRows(lim *rowLimits, src []byte, p, lo, hi int) int {
	pats := b.Patients
	for ; p < len(pats) && int(pats[p].EvStart) < hi; p++ {
		s, t := int(pats[p].EvStart), int(pats[p].EvEnd)
		if from, to := max(s, lo), min(t, hi); from < to {
			prev := int64(b.Events[from].Date)
			if from > s {
				prev = int64(int32(binary.LittleEndian.Uint32(src[rowLen*(from-1):])))
			}
			lim.fold(b.Events[from:to], prev)
		}
		if t > hi {
			break
		}
	}
	return p
}

// rowLimits accumulates what validity depends on, so that the loop over
// rows has no branches: the largest code index, the largest row tail
// (whose top 16 bits are the largest unit index), whether any kind and
// value count pair was wrong, and in order's sign bit any step back in
// date.
type rowLimits struct {
	code  uint32
	tail  uint32
	pair  uint8
	order int64
}

// badPair flags each (kind, value count) pair, as the low 16 bits of a
// row's last word on a little-endian host, that no event may have.
var badPair = func() *[1 << 16]uint8 {
	var t [1 << 16]uint8
	for i := range t {
		if k, n := Kind(i&0xff), uint8(i>>8); k < KindCondition || k > KindImmunisation || n > 2 {
			t[i] = 1
		}
	}
	return &t
}()

func (lim *rowLimits) fold(ev []EventRow, prev int64) {
	if len(ev) == 0 {
		return
	}
	if !nativeRows {
		lim.foldFields(ev, prev)
		return
	}
	code, tails, pair, order := lim.code, lim.tail, lim.pair, lim.order
	bad := badPair
	// Four rows a turn: the Go compiler keeps this loop in registers.
	for ; len(ev) >= 4; ev = ev[4:] {
		r0, r1, r2, r3 := &ev[0], &ev[1], &ev[2], &ev[3]
		d0, d1, d2, d3 := int64(r0.Date), int64(r1.Date), int64(r2.Date), int64(r3.Date)
		w0, w1, w2, w3 := tail(r0), tail(r1), tail(r2), tail(r3)
		code = max(code, r0.Code, r1.Code, r2.Code, r3.Code)
		pair |= bad[uint16(w0)] | bad[uint16(w1)] | bad[uint16(w2)] | bad[uint16(w3)]
		tails = max(tails, w0, w1, w2, w3)
		order |= (d0 - prev) | (d1 - d0) | (d2 - d1) | (d3 - d2)
		prev = d3
	}
	for ; len(ev) > 0; ev = ev[1:] {
		r := &ev[0]
		d := int64(r.Date)
		w := tail(r)
		code = max(code, r.Code)
		pair |= bad[uint16(w)]
		tails = max(tails, w)
		order |= d - prev
		prev = d
	}
	lim.code, lim.tail, lim.pair, lim.order = code, tails, pair, order
}

// tail is a row's kind, value count and unit as one word: kind in the low
// byte, then the value count, then the unit (on a little-endian host).
func tail(r *EventRow) uint32 { return *(*uint32)(unsafe.Pointer(&r.Kind)) }

// foldFields is fold for any layout.
func (lim *rowLimits) foldFields(ev []EventRow, prev int64) {
	for i := range ev {
		r := &ev[i]
		d := int64(r.Date)
		lim.code = max(lim.code, r.Code)
		lim.tail = max(lim.tail, uint32(r.Unit)<<16)
		lim.pair |= badPair[uint16(r.Kind)|uint16(r.NVal)<<8]
		lim.order |= d - prev
		prev = d
	}
}

func (lim *rowLimits) ok(nCodes, nUnits int) bool {
	return lim.order >= 0 && int(lim.code) < nCodes && int(lim.tail>>16) <= nUnits && lim.pair == 0
}

// validRow is the per-event check, for saying which event is wrong.
func validRow(e EventRow, nCodes, nUnits int) bool {
	return int(e.Code) < nCodes && int(e.Unit) <= nUnits && e.Kind >= KindCondition && e.Kind <= KindImmunisation && e.NVal <= 2
}

// eventProblem names the first invalid event or patient: the slow path,
// taken to encode a batch and to explain a refused one.
func (b *Batch) eventProblem() error {
	for i, e := range b.Events {
		if !validRow(e, len(b.Codes), len(b.Units)) {
			return fmt.Errorf("batch event %d: code, unit, kind or value count out of range", i)
		}
	}
	// The evaluator relies on each patient's events being in date order.
	for i := range b.Patients {
		ev := b.PatientEvents(i)
		for j := 1; j < len(ev); j++ {
			if ev[j].Date < ev[j-1].Date {
				return fmt.Errorf("batch patient %d (%s): events not in date order", i, b.Patients[i].ID)
			}
		}
	}
	return nil
}
