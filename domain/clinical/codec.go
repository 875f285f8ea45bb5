package clinical

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"unsafe"

	"gpcollections/domain"
)

// The compact binary form of a Batch, the cache an imported source is kept
// in. Layout (little-endian; every section starts at a multiple of 8 bytes):
//
//	header  "GPCBATCH" | version u32 | CRC-32C of payload u32 | payload length u64
//	payload sections, each: tag [4]byte | 0 u32 | body length u64 | body | zero padding to 8 bytes
//	  META  practice (string), then counts u32: codes, units, patients, events, registrations
//	  CODE  codes u64[]
//	  UNIT  units (string column)
//	  PATS  ids, NHS numbers (string columns), birth i32[], death i32[], sex u8[],
//	        events per patient u32[], registrations per patient u32[]
//	  EVTS  rows of 20 bytes, EventRow's own layout: date i32, code index u32,
//	        V1 f32, V2 f32, kind u8, nval u8, unit u16
//	  REGS  practice, type (string columns), start i32[], end i32[]
//
// A string column is n uvarint lengths then the bytes; it decodes into one
// string, sliced, so a batch decodes with a handful of allocations. The
// events, nearly all of a batch, are rows rather than columns: on a
// little-endian host the EVTS body, 8-byte aligned in the file, already is
// a []EventRow, so a decoder given memory that stays put (a mapped cache
// file) uses it in place instead of copying it.

const (
	batchMagic   = "GPCBATCH"
	batchVersion = 2
	headerLen    = len(batchMagic) + 4 + 4 + 8
	sectionHead  = 4 + 4 + 8
	rowLen       = 20 // bytes per EVTS row
)

// ErrBadBatch is wrapped by every decoding error: a corrupted, truncated or
// foreign file.
var ErrBadBatch = errors.New("not a valid compact batch")

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
	for i := range b.Events {
		e.buf = appendRow(e.buf, &b.Events[i])
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
	binary.LittleEndian.PutUint32(out[12:], checksum(payload))
	binary.LittleEndian.PutUint64(out[16:], uint64(len(payload)))
	return out, nil
}

// appendRow appends an event in the EVTS row format.
func appendRow(buf []byte, e *EventRow) []byte {
	le := binary.LittleEndian
	buf = le.AppendUint32(buf, uint32(e.Date))
	buf = le.AppendUint32(buf, e.Code)
	buf = le.AppendUint32(buf, math.Float32bits(e.V1))
	buf = le.AppendUint32(buf, math.Float32bits(e.V2))
	buf = append(buf, byte(e.Kind), e.NVal)
	return le.AppendUint16(buf, e.Unit)
}

// readRow is appendRow's inverse, for hosts where the rows cannot be used
// in place.
func readRow(src []byte) EventRow {
	le := binary.LittleEndian
	src = src[:rowLen]
	return EventRow{
		Date: domain.Date(le.Uint32(src[0:])),
		Code: le.Uint32(src[4:]),
		V1:   math.Float32frombits(le.Uint32(src[8:])),
		V2:   math.Float32frombits(le.Uint32(src[12:])),
		Kind: Kind(src[16]),
		NVal: src[17],
		Unit: le.Uint16(src[18:]),
	}
}

func (b *Batch) sizeHint() int {
	n := 256 + 8*len(b.Codes) + 30*len(b.Patients) + rowLen*len(b.Events) + 20*len(b.Regs)
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
	return b.eventProblem()
}

type encoder struct {
	buf   []byte
	start int // where the open section's length goes
}

func (e *encoder) section(tag string) {
	e.buf = append(e.buf, tag...)
	e.buf = append(e.buf, 0, 0, 0, 0)
	e.start = len(e.buf)
	e.buf = append(e.buf, make([]byte, 8)...)
}

// end closes the section and pads to the next multiple of 8 bytes, so that
// every section's body is aligned.
func (e *encoder) end() {
	binary.LittleEndian.PutUint64(e.buf[e.start:], uint64(len(e.buf)-e.start-8))
	e.buf = append(e.buf, make([]byte, pad8(len(e.buf)))...)
}

// pad8 is how many bytes take n to a multiple of 8.
func pad8[T int | uint64](n T) T { return -n & 7 }

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
	// The buffer is this function's own: the batch may keep its rows.
	return UnmarshalBatchShared(buf.Bytes(), nil)
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
// every length, index and order against what is actually there. The batch
// owns its memory: data may be reused afterwards.
func UnmarshalBatch(data []byte) (*Batch, error) {
	return decodeBatch(data, false, nil)
}

// UnmarshalBatchShared is UnmarshalBatch for data that stays unchanged and
// alive while the batch is used (a mapped cache file): where the host's
// layout allows, the batch's events are data's own bytes, not a copy, so
// decoding costs little more than checking. release, if not nil, is what
// the batch's Release calls once its user is done with it; on an error the
// batch does not exist and data is the caller's to dispose of.
func UnmarshalBatchShared(data []byte, release func()) (*Batch, error) {
	return decodeBatch(data, true, release)
}

// Release ends the batch's use of memory it borrows (see
// UnmarshalBatchShared): the batch drops its events, patients and
// registrations (the next batch decoded may reuse them) and the release
// function runs, once. Neither the batch, nor a copy of it, nor any slice
// taken from it may be used afterwards; strings taken from it stay valid.
// A batch that owns its memory is left as it is.
func (b *Batch) Release() {
	if f := b.release; f != nil {
		b.release = nil
		patientRows.put(b.Patients)
		regRows.put(b.Regs)
		b.Events, b.Patients, b.Regs = nil, nil, nil
		f()
	}
}

// A released batch's patient and registration rows are decoded into again:
// a collection loads one practice after another, and reusing their rows
// (about 1 MB a practice) spares the garbage collector a cycle every few
// practices.
var (
	patientRows rowPool[PatientRow]
	regRows     rowPool[Registration]
)

type rowPool[T any] struct{ p sync.Pool }

// get returns n rows, reused if it can: reused rows hold old values, and
// the decoder sets every field (TestDecoderSetsEveryField checks it knows
// them all). New rows to be reused have room to spare, for the next
// practice may be a little larger.
func (p *rowPool[T]) get(n int, reuse bool) []T {
	if !reuse {
		return make([]T, n)
	}
	if s, ok := p.p.Get().(*[]T); ok && cap(*s) >= n {
		return (*s)[:n]
	}
	return make([]T, n, n+n/8)
}

func (p *rowPool[T]) put(rows []T) {
	if cap(rows) > 0 {
		p.p.Put(&rows)
	}
}

func decodeBatch(data []byte, shared bool, release func()) (*Batch, error) {
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
	want := binary.LittleEndian.Uint32(data[12:])
	b, rows, err := decodeSections(payload, shared && release != nil)
	if err != nil {
		// A damaged file says so, rather than naming whichever part of
		// it first looked wrong.
		if checksum(payload) != want {
			return nil, badBatch("checksum mismatch: the file is corrupted")
		}
		return nil, err
	}
	// The events are checked, and the checksum computed, together: one
	// pass over memory that is mostly not in any cache yet.
	ev := rows.body
	inPlace := shared && len(ev) > 0 && nativeRows &&
		uintptr(unsafe.Pointer(unsafe.SliceData(ev)))%unsafe.Alignof(EventRow{}) == 0
	if inPlace {
		b.Events = unsafe.Slice((*EventRow)(unsafe.Pointer(unsafe.SliceData(ev))), rows.n)
	} else if rows.n > 0 {
		b.Events = make([]EventRow, rows.n)
	}
	sum, valid := checksum(payload[:rows.off]), true
	if rows.n > 0 {
		var evSum uint32
		evSum, valid = b.checkEvents(ev, !inPlace)
		sum = crc32Combine(sum, evSum, uint64(len(ev)))
	}
	rest := payload[rows.off+len(ev):]
	sum = crc32Combine(sum, checksum(rest), uint64(len(rest)))
	if sum != want {
		return nil, badBatch("checksum mismatch: the file is corrupted")
	}
	if !valid {
		problem := b.eventProblem()
		if problem == nil { // the fast check and the slow one disagree
			problem = errors.New("events fail the check")
		}
		return nil, fmt.Errorf("%w: %v", ErrBadBatch, problem)
	}
	b.release = release
	return b, nil
}

// evtsBody is where the EVTS rows are in the payload.
type evtsBody struct {
	off  int // offset of the first row in the payload
	n    int // rows
	body []byte
}

// decodeSections decodes everything but the event rows, which it only
// locates; with reuse, into rows released batches gave back.
func decodeSections(payload []byte, reuse bool) (*Batch, evtsBody, error) {
	d := &decoder{rest: payload}
	b := &Batch{}
	var ev evtsBody

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
	ids, nhs := d.column(nPats), d.column(nPats)
	if body := d.fixed(nPats, 4+4+1+4+4); body != nil {
		b.Patients = patientRows.get(nPats, reuse)
		var ev, rg uint64
		for i := range b.Patients {
			p := &b.Patients[i]
			p.ID, p.NHSNumber = ids.next(), nhs.next()
			p.Birth = domain.Date(binary.LittleEndian.Uint32(body[4*i:]))
			p.Death = domain.Date(binary.LittleEndian.Uint32(body[4*(nPats+i):]))
			p.Sex = Sex(body[8*nPats+i])
			if p.Sex > SexOther {
				return nil, ev0, badBatch("patient %d: sex %d", i, p.Sex)
			}
			p.EvStart, p.RegStart = uint32(ev), uint32(rg)
			ev += uint64(binary.LittleEndian.Uint32(body[9*nPats+4*i:]))
			rg += uint64(binary.LittleEndian.Uint32(body[13*nPats+4*i:]))
			if ev > uint64(nEvents) || rg > uint64(nRegs) {
				return nil, ev0, badBatch("patient %d: events or registrations beyond the batch", i)
			}
			p.EvEnd, p.RegEnd = uint32(ev), uint32(rg)
		}
		if ev != uint64(nEvents) || rg != uint64(nRegs) {
			return nil, ev0, badBatch("events or registrations outside any patient")
		}
	} else if d.err == nil && (nEvents != 0 || nRegs != 0) {
		return nil, ev0, badBatch("events or registrations without patients")
	}
	d.done()

	ev.off = len(payload) - len(d.rest) + sectionHead
	d.section("EVTS")
	ev.body = d.fixed(nEvents, rowLen)
	ev.n = len(ev.body) / rowLen
	d.done()

	d.section("REGS")
	pr, ty := d.column(nRegs), d.column(nRegs)
	if body := d.fixed(nRegs, 8); body != nil {
		b.Regs = regRows.get(nRegs, reuse)
		for i := range b.Regs {
			r := &b.Regs[i]
			r.Practice, r.Type = pr.next(), ty.next()
			r.Start = domain.Date(binary.LittleEndian.Uint32(body[4*i:]))
			r.End = domain.Date(binary.LittleEndian.Uint32(body[4*(nRegs+i):]))
		}
	}
	d.done()
	if d.err != nil {
		return nil, ev0, d.err
	}
	if len(d.rest) != 0 {
		return nil, ev0, badBatch("%d bytes after the last section", len(d.rest))
	}
	return b, ev, nil
}

var ev0 evtsBody

// decoder reads sections; errors are sticky and every read is bounds-checked
// against the bytes that remain, so no length can cause a panic or a large
// allocation on its own.
type decoder struct {
	rest []byte // payload after the current section
	sec  []byte // the current section's unread body
	tag  string
	err  error
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
	if len(d.rest) < sectionHead || string(d.rest[:4]) != tag {
		d.fail("missing")
		return
	}
	if binary.LittleEndian.Uint32(d.rest[4:]) != 0 {
		d.fail("reserved bytes not zero")
		return
	}
	n := binary.LittleEndian.Uint64(d.rest[8:])
	avail := uint64(len(d.rest) - sectionHead)
	if n > avail || pad8(n) > avail-n {
		d.fail("length %d beyond the end of the payload", n)
		return
	}
	end := sectionHead + int(n)
	padding := d.rest[end : end+int(pad8(n))]
	for _, c := range padding {
		if c != 0 {
			d.fail("padding not zero")
			return
		}
	}
	d.sec, d.rest = d.rest[sectionHead:end], d.rest[end+len(padding):]
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
	if len(d.sec) > 0 && d.sec[0] < 0x80 { // most lengths are one byte
		v := uint64(d.sec[0])
		d.sec = d.sec[1:]
		return v
	}
	v, n := binary.Uvarint(d.sec)
	// Only the shortest form is accepted, so that a batch has exactly one
	// encoding: its last byte is not zero.
	if n <= 0 || d.sec[n-1] == 0 {
		d.fail("bad length")
		return 0
	}
	d.sec = d.sec[n:]
	return v
}

func (d *decoder) str() string { return string(d.take(d.uvarint())) }

// fixed takes the body of count rows of size bytes each; nil when count is
// 0 or on error.
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

// column is a string column being read: its lengths, already checked, and
// its bytes as one string that each value is a slice of.
type column struct {
	lens []byte
	blob string
}

// column takes a string column of n strings, checking every length.
func (d *decoder) column(n int) column {
	if d.err != nil || n == 0 {
		return column{}
	}
	if uint64(n) > uint64(len(d.sec)) { // each length takes at least a byte
		d.fail("%d strings do not fit in %d bytes", n, len(d.sec))
		return column{}
	}
	start := d.sec
	var total uint64
	if lens, short := shortLengths(d.sec[:n]); short {
		// Every length is one byte: n bytes, summed.
		total, d.sec = lens, d.sec[n:]
	} else {
		for range n {
			l := d.uvarint()
			total += l
			if l > uint64(len(d.sec)) || total > uint64(len(d.sec)) {
				d.fail("strings longer than the section")
				break
			}
		}
	}
	if d.err == nil && total > uint64(len(d.sec)) {
		d.fail("strings longer than the section")
	}
	if d.err != nil {
		return column{}
	}
	lens := start[:len(start)-len(d.sec)]
	return column{lens: lens, blob: string(d.take(total))}
}

// shortLengths sums p's bytes and reports whether each is a whole length
// (below 0x80).
func shortLengths(p []byte) (sum uint64, short bool) {
	var or byte
	for _, c := range p {
		sum += uint64(c)
		or |= c
	}
	return sum, or < 0x80
}

// next returns the column's next string: a slice of the column's bytes, so
// a column costs one allocation however many strings it holds.
func (c *column) next() string {
	l, k := uint64(c.lens[0]), 1
	if l >= 0x80 {
		l, k = binary.Uvarint(c.lens)
	}
	c.lens = c.lens[k:]
	s := c.blob[:l]
	c.blob = c.blob[l:]
	return s
}

// strs reads a string column of n strings.
func (d *decoder) strs(n int) []string {
	c := d.column(n)
	if d.err != nil || n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = c.next()
	}
	return out
}
