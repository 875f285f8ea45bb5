package clinical

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"runtime"
	"sync"

	"gpcollections/domain"
)

// The compact binary form of a Batch, the cache an imported source is kept
// in. Layout (little-endian):
//
//	header  "GPCBATCH" | version u32 | CRC-32C of payload u32 | payload length u64
//	payload sections, each: tag [4]byte | length u64 | body
//	  META  practice (string), then counts u32: codes, units, patients, events, registrations
//	  CODE  codes u64[]
//	  UNIT  units (string column)
//	  PATS  ids, NHS numbers (string columns), birth i32[], death i32[], sex u8[],
//	        events per patient u32[], registrations per patient u32[]
//	  EVTS  date i32[], code index u32[], V1 f32[], V2 f32[], kind u8[], nval u8[], unit u16[]
//	  REGS  practice, type (string columns), start i32[], end i32[]
//
// A string column is n uvarint lengths then the bytes; it decodes into one
// string, sliced, so a batch decodes with a handful of allocations.
// Columns rather than rows keep each decode loop simple and fast.

const (
	batchMagic   = "GPCBATCH"
	batchVersion = 1
	headerLen    = len(batchMagic) + 4 + 4 + 8
)

// ErrBadBatch is wrapped by every decoding error: a corrupted, truncated or
// foreign file.
var ErrBadBatch = errors.New("not a valid compact batch")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func badBatch(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadBatch, fmt.Sprintf(format, a...))
}

// MarshalBinary encodes the batch. Patients' event and registration ranges
// must be contiguous and in order, as Builder makes them.
func (b *Batch) MarshalBinary() ([]byte, error) {
	if err := b.checkShape(); err != nil {
		return nil, err
	}
	e := &encoder{buf: make([]byte, headerLen, headerLen+b.sizeHint())}

	e.section("META")
	e.str(b.Practice)
	for _, n := range []int{len(b.Codes), len(b.Units), len(b.Patients), len(b.Events), len(b.Regs)} {
		e.u32(uint32(n))
	}
	e.end()

	e.section("CODE")
	for _, c := range b.Codes {
		e.u64(uint64(c))
	}
	e.end()

	e.section("UNIT")
	e.strs(len(b.Units), func(i int) string { return b.Units[i] })
	e.end()

	e.section("PATS")
	p := b.Patients
	e.strs(len(p), func(i int) string { return p[i].ID })
	e.strs(len(p), func(i int) string { return p[i].NHSNumber })
	for i := range p {
		e.u32(uint32(p[i].Birth))
	}
	for i := range p {
		e.u32(uint32(p[i].Death))
	}
	for i := range p {
		e.buf = append(e.buf, byte(p[i].Sex))
	}
	for i := range p {
		e.u32(p[i].EvEnd - p[i].EvStart)
	}
	for i := range p {
		e.u32(p[i].RegEnd - p[i].RegStart)
	}
	e.end()

	e.section("EVTS")
	ev := b.Events
	for i := range ev {
		e.u32(uint32(ev[i].Date))
	}
	for i := range ev {
		e.u32(ev[i].Code)
	}
	for i := range ev {
		e.u32(math.Float32bits(ev[i].V1))
	}
	for i := range ev {
		e.u32(math.Float32bits(ev[i].V2))
	}
	for i := range ev {
		e.buf = append(e.buf, byte(ev[i].Kind))
	}
	for i := range ev {
		e.buf = append(e.buf, ev[i].NVal)
	}
	for i := range ev {
		e.buf = binary.LittleEndian.AppendUint16(e.buf, ev[i].Unit)
	}
	e.end()

	e.section("REGS")
	r := b.Regs
	e.strs(len(r), func(i int) string { return r[i].Practice })
	e.strs(len(r), func(i int) string { return r[i].Type })
	for i := range r {
		e.u32(uint32(r[i].Start))
	}
	for i := range r {
		e.u32(uint32(r[i].End))
	}
	e.end()

	out := e.buf
	payload := out[headerLen:]
	copy(out, batchMagic)
	binary.LittleEndian.PutUint32(out[8:], batchVersion)
	binary.LittleEndian.PutUint32(out[12:], crc32.Checksum(payload, castagnoli))
	binary.LittleEndian.PutUint64(out[16:], uint64(len(payload)))
	return out, nil
}

func (b *Batch) sizeHint() int {
	n := 256 + 8*len(b.Codes) + 30*len(b.Patients) + 19*len(b.Events) + 20*len(b.Regs)
	for _, p := range b.Patients {
		n += len(p.ID) + len(p.NHSNumber)
	}
	return n
}

// checkShape refuses what the format cannot carry or would decode differently.
func (b *Batch) checkShape() error {
	if uint64(len(b.Events)) > math.MaxUint32 || uint64(len(b.Regs)) > math.MaxUint32 ||
		uint64(len(b.Patients)) > math.MaxUint32 || uint64(len(b.Codes)) > math.MaxUint32 || len(b.Units) > math.MaxUint16 {
		return fmt.Errorf("batch too large to encode")
	}
	var ev, rg uint32
	for i, p := range b.Patients {
		if p.EvStart != ev || p.EvEnd < p.EvStart || p.RegStart != rg || p.RegEnd < p.RegStart {
			return fmt.Errorf("batch patient %d (%s): event or registration range not contiguous", i, p.ID)
		}
		ev, rg = p.EvEnd, p.RegEnd
	}
	if int(ev) != len(b.Events) || int(rg) != len(b.Regs) {
		return fmt.Errorf("batch has events or registrations outside any patient")
	}
	for i, p := range b.Patients {
		if p.Sex > SexOther {
			return fmt.Errorf("batch patient %d (%s): sex %d", i, p.ID, p.Sex)
		}
	}
	for i, e := range b.Events {
		if !validRow(e, len(b.Codes), len(b.Units)) {
			return fmt.Errorf("batch event %d: code, unit, kind or value count out of range", i)
		}
	}
	return b.checkOrder()
}

// validRow is the per-event check both directions apply.
func validRow(e EventRow, nCodes, nUnits int) bool {
	return int(e.Code) < nCodes && int(e.Unit) <= nUnits && e.Kind >= KindCondition && e.Kind <= KindImmunisation && e.NVal <= 2
}

// checkOrder: the evaluator relies on each patient's events being in date order.
func (b *Batch) checkOrder() error {
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

type encoder struct {
	buf   []byte
	start int // where the open section's length goes
}

func (e *encoder) section(tag string) {
	e.buf = append(e.buf, tag...)
	e.start = len(e.buf)
	e.buf = append(e.buf, make([]byte, 8)...)
}

func (e *encoder) end() {
	binary.LittleEndian.PutUint64(e.buf[e.start:], uint64(len(e.buf)-e.start-8))
}

func (e *encoder) u32(v uint32) { e.buf = binary.LittleEndian.AppendUint32(e.buf, v) }
func (e *encoder) u64(v uint64) { e.buf = binary.LittleEndian.AppendUint64(e.buf, v) }

func (e *encoder) str(s string) {
	e.buf = binary.AppendUvarint(e.buf, uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) strs(n int, at func(int) string) {
	for i := range n {
		e.buf = binary.AppendUvarint(e.buf, uint64(len(at(i))))
	}
	for i := range n {
		e.buf = append(e.buf, at(i)...)
	}
}

// WriteTo writes the encoded batch to w.
func (b *Batch) WriteTo(w io.Writer) (int64, error) {
	data, err := b.MarshalBinary()
	if err != nil {
		return 0, err
	}
	n, err := w.Write(data)
	return int64(n), err
}

// ReadBatch reads one encoded batch from r. A bad length in the header
// cannot make it allocate more than r actually holds.
func ReadBatch(r io.Reader) (*Batch, error) {
	head := make([]byte, headerLen)
	if _, err := io.ReadFull(r, head); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, badBatch("truncated header")
		}
		return nil, err
	}
	n, err := checkHeader(head)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Write(head)
	got, err := io.Copy(&buf, io.LimitReader(r, int64(n)))
	if err != nil {
		return nil, err
	}
	if uint64(got) != n {
		return nil, badBatch("truncated: payload is %d bytes, header says %d", got, n)
	}
	return UnmarshalBatch(buf.Bytes())
}

func checkHeader(h []byte) (uint64, error) {
	if string(h[:8]) != batchMagic {
		return 0, badBatch("wrong magic bytes")
	}
	if v := binary.LittleEndian.Uint32(h[8:]); v != batchVersion {
		return 0, badBatch("format version %d, this program reads version %d", v, batchVersion)
	}
	n := binary.LittleEndian.Uint64(h[16:])
	if n > math.MaxInt64/2 {
		return 0, badBatch("impossible payload length %d", n)
	}
	return n, nil
}

// UnmarshalBatch decodes MarshalBinary's output, checking the checksum and
// every length and index against what is actually there.
func UnmarshalBatch(data []byte) (*Batch, error) {
	if len(data) < headerLen {
		return nil, badBatch("truncated header (%d bytes)", len(data))
	}
	n, err := checkHeader(data)
	if err != nil {
		return nil, err
	}
	payload := data[headerLen:]
	if uint64(len(payload)) != n {
		return nil, badBatch("payload is %d bytes, header says %d (truncated or extended)", len(payload), n)
	}
	if sum := crc32.Checksum(payload, castagnoli); sum != binary.LittleEndian.Uint32(data[12:]) {
		return nil, badBatch("checksum mismatch: the file is corrupted")
	}
	d := &decoder{rest: payload}
	b := &Batch{}

	d.section("META")
	b.Practice = d.str()
	var cnt [5]int
	for i := range cnt {
		cnt[i] = int(d.u32())
	}
	nCodes, nUnits, nPats, nEvents, nRegs := cnt[0], cnt[1], cnt[2], cnt[3], cnt[4]
	d.done()

	d.section("CODE")
	if body := d.fixed(nCodes, 8); body != nil {
		b.Codes = make([]Code, nCodes)
		for i := range b.Codes {
			b.Codes[i] = Code(binary.LittleEndian.Uint64(body[8*i:]))
		}
	}
	d.done()

	d.section("UNIT")
	b.Units = d.strs(nUnits)
	d.done()

	d.section("PATS")
	ids, nhs := d.strs(nPats), d.strs(nPats)
	if body := d.fixed(nPats, 4+4+1+4+4); body != nil {
		b.Patients = make([]PatientRow, nPats)
		var ev, rg uint64
		for i := range b.Patients {
			p := &b.Patients[i]
			p.ID, p.NHSNumber = ids[i], nhs[i]
			p.Birth = domain.Date(binary.LittleEndian.Uint32(body[4*i:]))
			p.Death = domain.Date(binary.LittleEndian.Uint32(body[4*(nPats+i):]))
			p.Sex = Sex(body[8*nPats+i])
			if p.Sex > SexOther {
				return nil, badBatch("patient %d: sex %d", i, p.Sex)
			}
			p.EvStart, p.RegStart = uint32(ev), uint32(rg)
			ev += uint64(binary.LittleEndian.Uint32(body[9*nPats+4*i:]))
			rg += uint64(binary.LittleEndian.Uint32(body[13*nPats+4*i:]))
			if ev > uint64(nEvents) || rg > uint64(nRegs) {
				return nil, badBatch("patient %d: events or registrations beyond the batch", i)
			}
			p.EvEnd, p.RegEnd = uint32(ev), uint32(rg)
		}
		if ev != uint64(nEvents) || rg != uint64(nRegs) {
			return nil, badBatch("events or registrations outside any patient")
		}
	}
	d.done()

	d.section("EVTS")
	if body := d.fixed(nEvents, 4+4+4+4+1+1+2); body != nil {
		b.Events = make([]EventRow, nEvents)
		if err := decodeEventsParallel(b.Events, body, nCodes, nUnits); err != nil {
			return nil, err
		}
	}
	d.done()

	d.section("REGS")
	pr, ty := d.strs(nRegs), d.strs(nRegs)
	if body := d.fixed(nRegs, 8); body != nil {
		b.Regs = make([]Registration, nRegs)
		for i := range b.Regs {
			b.Regs[i] = Registration{Practice: pr[i], Type: ty[i],
				Start: domain.Date(binary.LittleEndian.Uint32(body[4*i:])),
				End:   domain.Date(binary.LittleEndian.Uint32(body[4*(nRegs+i):]))}
		}
	}
	d.done()
	if d.err != nil {
		return nil, d.err
	}
	if len(d.rest) != 0 {
		return nil, badBatch("%d bytes after the last section", len(d.rest))
	}
	if err := b.checkOrder(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadBatch, err)
	}
	return b, nil
}

// decoder reads sections; errors are sticky and every read is bounds-checked
// against the bytes that remain, so no length can cause a panic or a large
// allocation on its own.
type decoder struct {
	rest []byte // payload after the current section
	sec  []byte // the current section's unread body
	tag  string
	err  error
	// scratch is for checking varint lengths without allocating.
	scratch [binary.MaxVarintLen64]byte
}

func (d *decoder) fail(format string, a ...any) {
	if d.err == nil {
		d.err = badBatch("section %s: %s", d.tag, fmt.Sprintf(format, a...))
	}
}

func (d *decoder) section(tag string) {
	d.tag = tag
	if d.err != nil {
		return
	}
	if len(d.rest) < 12 || string(d.rest[:4]) != tag {
		d.fail("missing")
		return
	}
	n := binary.LittleEndian.Uint64(d.rest[4:])
	if n > uint64(len(d.rest)-12) {
		d.fail("length %d beyond the end of the payload", n)
		return
	}
	d.sec, d.rest = d.rest[12:12+n], d.rest[12+n:]
}

// done checks that the section was read exactly.
func (d *decoder) done() {
	if d.err == nil && len(d.sec) != 0 {
		d.fail("%d unexpected bytes at the end", len(d.sec))
	}
}

func (d *decoder) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.sec)) {
		d.fail("truncated")
		return nil
	}
	b := d.sec[:n]
	d.sec = d.sec[n:]
	return b
}

func (d *decoder) u32() uint32 {
	if b := d.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.sec)
	// Only the shortest form is accepted, so that a batch has exactly one
	// encoding.
	if n <= 0 || n != len(binary.AppendUvarint(d.scratch[:0], v)) {
		d.fail("bad length")
		return 0
	}
	d.sec = d.sec[n:]
	return v
}

func (d *decoder) str() string { return string(d.take(d.uvarint())) }

// fixed takes the body of count rows of size bytes each (as columns); nil
// when count is 0 or on error.
func (d *decoder) fixed(count, size int) []byte {
	if d.err != nil || count == 0 {
		return nil
	}
	if uint64(count) > uint64(len(d.sec))/uint64(size) {
		d.fail("%d rows of %d bytes do not fit in %d bytes", count, size, len(d.sec))
		return nil
	}
	return d.take(uint64(count * size))
}

// strs reads a string column of n strings into one backing string.
func (d *decoder) strs(n int) []string {
	if d.err != nil || n == 0 {
		return nil
	}
	if uint64(n) > uint64(len(d.sec)) { // each length takes at least a byte
		d.fail("%d strings do not fit in %d bytes", n, len(d.sec))
		return nil
	}
	lens := make([]uint32, n)
	var total uint64
	for i := range lens {
		l := d.uvarint()
		total += l
		if l > uint64(len(d.sec)) || total > uint64(len(d.sec)) {
			d.fail("strings longer than the section")
			return nil
		}
		lens[i] = uint32(l)
	}
	blob := string(d.take(total))
	out := make([]string, n)
	off := uint32(0)
	for i, l := range lens {
		out[i] = blob[off : off+l]
		off += l
	}
	return out
}

// decodeEvents fills rows from the EVTS columns. The columns are sliced to
// exact lengths first so that the loop needs no bounds checks of its own.
// decodeEventsParallel splits a large batch's events across the cores:
// decoding is bound by touching fresh memory, which parallelises.
func decodeEventsParallel(rows []EventRow, body []byte, nCodes, nUnits int) error {
	const minPart = 64 << 10
	parts := min(runtime.GOMAXPROCS(0), len(rows)/minPart+1)
	if parts <= 1 {
		return decodeEvents(rows, body, 0, len(rows), nCodes, nUnits)
	}
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := len(rows)*p/parts, len(rows)*(p+1)/parts
		wg.Go(func() { errs[p] = decodeEvents(rows, body, lo, hi, nCodes, nUnits) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func decodeEvents(rows []EventRow, body []byte, lo, hi, nCodes, nUnits int) error {
	n := len(rows)
	dates, codes := body[:4*n], body[4*n:8*n]
	v1s, v2s := body[8*n:12*n], body[12*n:16*n]
	kinds, nvals, units := body[16*n:17*n], body[17*n:18*n], body[18*n:20*n]
	le := binary.LittleEndian
	for i := lo; i < hi; i++ {
		e := EventRow{
			Date: domain.Date(le.Uint32(dates[4*i:])),
			Code: le.Uint32(codes[4*i:]),
			V1:   math.Float32frombits(le.Uint32(v1s[4*i:])),
			V2:   math.Float32frombits(le.Uint32(v2s[4*i:])),
			Kind: Kind(kinds[i]),
			NVal: nvals[i],
			Unit: le.Uint16(units[2*i:]),
		}
		if !validRow(e, nCodes, nUnits) {
			return badBatch("event %d: code, unit, kind or value count out of range", i)
		}
		rows[i] = e
	}
	return nil
}
