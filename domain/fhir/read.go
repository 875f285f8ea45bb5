// Package fhir reads and writes a practice's records as FHIR R4 bulk-data
// NDJSON (one file per resource type, UK Core conventions) and turns them
// into the compact clinical.Batch the extraction engine evaluates.
//
// The reader is a hand-written scanner for exactly the resource shapes the
// engine needs: it validates every line as JSON but builds no tree, and it
// parses chunks of a file on all cores, so import runs at hundreds of MB/s
// with memory proportional to the output, not to the files.
package fhir

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
)

// Opener opens one resource file; it returns an error wrapping
// fs.ErrNotExist when the file is absent.
type Opener func(resourceType string) (io.ReadCloser, error)

// Options control an import.
type Options struct {
	Practice string // ODS code the batch is for
	Strict   bool   // stop at the first bad line instead of skipping it
}

// LineError is one bad line.
type LineError struct {
	File       string // e.g. "Observation.ndjson"
	Line       int    // 1-based
	ResourceID string // "Observation/obs-7", or "" when no id could be read
	Msg        string
}

func (e LineError) Error() string {
	if e.ResourceID == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d (%s): %s", e.File, e.Line, e.ResourceID, e.Msg)
}

// Stats describe an import. Lines = Resources + Skipped + Bad.
type Stats struct {
	Bytes     int64
	Lines     int // non-blank lines
	Resources int // resources imported
	Patients  int
	Events    int
	Skipped   int         // resources that say they did not happen (entered-in-error, not-done, ...)
	Bad       int         // bad lines skipped (never counted as imported)
	Errors    []LineError // the first MaxErrors bad lines
}

// MaxErrors is how many bad lines Stats keeps in full.
const MaxErrors = 20

const (
	chunkSize = 512 << 10
	maxLine   = 64 << 20
	maxID     = 64 // FHIR ids are at most 64 characters
)

// Read imports a practice source. Patient must exist; the other files may be
// absent. Patients come out ordered by id, each one's events by date then by
// (resource id, resource type), so that same-day ties break the same way
// whatever the order of the files.
func Read(open Opener, opt Options) (*clinical.Batch, Stats, error) {
	nw := runtime.GOMAXPROCS(0)
	rd := &reader{opt: opt, patIndex: map[string]uint32{}, unitIdx: map[string]uint16{},
		evs: make([][]rawEvent, len(ResourceTypes)), ids: make([][]byte, len(ResourceTypes)),
		bufs: make(chan []byte, nw+6), outs: make(chan chunkOut, nw+6)}
	for t := range ResourceTypes {
		if err := rd.file(open, t); err != nil {
			return nil, rd.st, err
		}
		if t == tPatient {
			rd.sortPatients()
		}
	}
	b, err := rd.build()
	if err != nil {
		return nil, rd.st, err
	}
	rd.st.Patients, rd.st.Events = len(b.Patients), len(b.Events)
	return b, rd.st, nil
}

type rawPatient struct {
	id, nhs      string
	birth, death domain.Date
	sex          clinical.Sex
	line         uint32
}

type rawEvent struct {
	pat          uint32
	date         domain.Date
	code         clinical.Code
	v1, v2       float32
	line         uint32
	idOff, idLen uint32
	unit         uint16 // 0 none, else units[unit-1] (chunk-local until merged)
	typ          uint8
	nval         uint8
}

type rawReg struct {
	pat          uint32
	line         uint32
	idOff, idLen uint32
	reg          clinical.Registration
}

// reader is the state of one import; only the merging goroutine writes it.
type reader struct {
	opt      Options
	st       Stats
	pats     []rawPatient
	patIndex map[string]uint32 // read-only while event files are parsed
	// evs and ids are kept per resource type (file), each grown once to
	// its file's size: one array for all files would be regrown, and
	// copied, at every file.
	evs     [][]rawEvent // by resource type
	ids     [][]byte     // arena of event and registration ids, by resource type
	regs    []rawReg
	units   []string
	unitIdx map[string]uint16
	// bufs and outs hold read buffers and emptied chunk results for reuse
	// across chunks and files: the import's garbage, and so its peak heap,
	// stays a few chunks' worth whatever the size of the source.
	bufs chan []byte
	outs chan chunkOut
}

// chunk is a run of whole lines of one file, parsed by one worker.
type chunk struct {
	buf  []byte
	data []byte
	line int // number of the first line
	out  chunkOut
	done chan struct{}
}

type chunkOut struct {
	lines, resources, skipped, bad int
	errs                           []LineError
	pats                           []rawPatient
	evs                            []rawEvent
	regs                           []rawReg
	ids                            []byte
	units                          []string
}

// file imports one resource file: a splitter goroutine cuts it into chunks
// of whole lines, workers parse chunks in parallel, and this goroutine
// merges their results in file order, so that errors, duplicates and
// statistics come out the same whatever the timing.
func (rd *reader) file(open Opener, t int) error {
	name := ResourceTypes[t] + ".ndjson"
	rc, err := open(ResourceTypes[t])
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && t != tPatient {
			return nil
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	nw := runtime.GOMAXPROCS(0)
	work := make(chan *chunk, nw)
	order := make(chan *chunk, nw+2)
	quit := make(chan struct{})
	size := int64(-1)
	if st, ok := rc.(interface{ Stat() (fs.FileInfo, error) }); ok {
		if fi, err := st.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
	}
	var wg sync.WaitGroup
	var splitErr error
	var nbytes int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(work)
		defer close(order)
		nbytes, splitErr = split(rc, name, work, order, quit, rd.bufs)
	}()
	for range nw {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{rd: rd, t: t, file: name, units: map[string]uint16{}, strs: map[string]string{}}
			for c := range work {
				w.chunk(c)
				close(c.done)
			}
		}()
	}
	var mergeErr error
	first := true
	for c := range order {
		<-c.done
		if mergeErr == nil {
			if first && size > 0 {
				rd.reserve(t, &c.out, len(c.data), size)
				first = false
			}
			if mergeErr = rd.merge(t, name, &c.out); mergeErr != nil {
				close(quit)
			}
		}
		rd.recycle(c)
	}
	wg.Wait()
	rc.Close() // read-only: a close error cannot lose data
	rd.st.Bytes += nbytes
	if mergeErr != nil {
		return mergeErr
	}
	return splitErr
}

// split reads r into chunks that end at a line end and hands each one both
// to a worker and, in order, to the merger. At most about nw+4 chunks are in
// flight, which bounds the memory an import needs for reading.
func split(r io.Reader, name string, work, order chan<- *chunk, quit <-chan struct{}, free chan []byte) (int64, error) {
	getBuf := func(n int) []byte {
		select {
		case b := <-free:
			if len(b) >= n {
				return b
			}
		default:
		}
		return make([]byte, n)
	}
	var total int64
	line := 1
	var carry []byte // the start of a line cut by the previous read
	size := chunkSize
	for {
		buf := getBuf(max(size, len(carry)+1))
		n := copy(buf, carry)
		eof := false
		for n < len(buf) {
			m, err := r.Read(buf[n:])
			n += m
			total += int64(m)
			if err == io.EOF {
				eof = true
				break
			}
			if err != nil {
				return total, fmt.Errorf("reading %s: %w", name, err)
			}
		}
		data := buf[:n]
		cut := n
		if !eof {
			cut = bytes.LastIndexByte(data, '\n') + 1
			if cut == 0 {
				if n > maxLine {
					return total, fmt.Errorf("%s:%d: line longer than %d MiB", name, line, maxLine>>20)
				}
				carry = append([]byte(nil), data...)
				size = min(2*n, maxLine+1)
				continue
			}
		}
		carry = append(carry[:0], data[cut:]...)
		size = chunkSize
		if cut == 0 {
			if eof {
				return total, nil
			}
			continue
		}
		c := &chunk{buf: buf, data: data[:cut], line: line, done: make(chan struct{})}
		line += bytes.Count(c.data, []byte{'\n'})
		select {
		case order <- c:
		case <-quit:
			return total, nil
		}
		select {
		case work <- c:
		case <-quit:
			close(c.done) // the merger may be waiting for it
			return total, nil
		}
		if eof {
			return total, nil
		}
	}
}

// merge folds one chunk's results into the import, in file order.
func (rd *reader) merge(t int, name string, o *chunkOut) error {
	rd.st.Lines += o.lines
	rd.st.Resources += o.resources
	rd.st.Skipped += o.skipped
	rd.st.Bad += o.bad
	errs := o.errs
	if t == tPatient {
		// Duplicate patients can only be seen here, across chunks.
		for _, p := range o.pats {
			if first, dup := rd.patIndex[p.id]; dup {
				errs = append(errs, LineError{File: name, Line: int(p.line), ResourceID: "Patient/" + p.id,
					Msg: "duplicate Patient id (first at line " + strconv.Itoa(int(rd.pats[first].line)) + ")"})
				rd.st.Resources--
				rd.st.Bad++
				continue
			}
			rd.patIndex[p.id] = uint32(len(rd.pats))
			rd.pats = append(rd.pats, p)
		}
		slices.SortStableFunc(errs, func(a, b LineError) int { return cmp.Compare(a.Line, b.Line) })
	}
	if err := rd.noteErrors(errs); err != nil {
		return err
	}
	base := uint32(len(rd.ids[t]))
	rd.ids[t] = append(rd.ids[t], o.ids...)
	remap := make([]uint16, len(o.units)+1)
	for i, u := range o.units {
		g, ok := rd.unitIdx[u]
		if !ok {
			if len(rd.units) >= 1<<16-1 {
				return fmt.Errorf("%s: more than %d distinct units of measure", name, 1<<16-1)
			}
			rd.units = append(rd.units, u)
			g = uint16(len(rd.units))
			rd.unitIdx[u] = g
		}
		remap[i+1] = g
	}
	for i := range o.evs {
		e := &o.evs[i]
		e.idOff += base
		e.unit = remap[e.unit]
	}
	rd.evs[t] = append(rd.evs[t], o.evs...)
	for i := range o.regs {
		o.regs[i].idOff += base
	}
	rd.regs = append(rd.regs, o.regs...)
	return nil
}

// reserve grows the import's arrays once, to what the whole file will
// need at the rate of its first chunk (n bytes of a size-byte file), so
// that they are not regrown by doubling within the file: regrowth holds the
// old and the new array at once and leaves the old one as garbage.
func (rd *reader) reserve(t int, o *chunkOut, n int, size int64) {
	if n <= 0 {
		return
	}
	scale := func(k int) int { return int(float64(k) * float64(size) / float64(n) * 1.02) }
	rd.evs[t] = slices.Grow(rd.evs[t], scale(len(o.evs)))
	rd.regs = slices.Grow(rd.regs, scale(len(o.regs)))
	rd.ids[t] = slices.Grow(rd.ids[t], scale(len(o.ids)))
}

// recycle hands a merged chunk's read buffer and result slices back for
// the next chunk.
func (rd *reader) recycle(c *chunk) {
	o := chunkOut{pats: c.out.pats[:0], evs: c.out.evs[:0], regs: c.out.regs[:0], ids: c.out.ids[:0]}
	c.out = chunkOut{}
	select {
	case rd.outs <- o:
	default:
	}
	select {
	case rd.bufs <- c.buf:
	default:
	}
}

// noteErrors records bad lines; in strict mode the first one is the error.
func (rd *reader) noteErrors(errs []LineError) error {
	if len(errs) > 0 && rd.opt.Strict {
		return errs[0]
	}
	for _, e := range errs {
		if len(rd.st.Errors) < MaxErrors {
			rd.st.Errors = append(rd.st.Errors, e)
		}
	}
	return nil
}

// sortPatients orders patients by id and points the index at the new order.
func (rd *reader) sortPatients() {
	slices.SortFunc(rd.pats, func(a, b rawPatient) int { return cmp.Compare(a.id, b.id) })
	for i, p := range rd.pats {
		rd.patIndex[p.id] = uint32(i)
	}
}

// build groups events and registrations by patient, assigns the tie-break
// order, drops duplicate resource ids and fills a Batch.
func (rd *reader) build() (*clinical.Batch, error) {
	np := len(rd.pats)
	var groups []grouped[rawEvent]
	total := 0
	for t, evs := range rd.evs {
		if len(evs) > 0 {
			groups = append(groups, groupBy(evs, np, func(e *rawEvent) uint32 { return e.pat }))
			total += len(evs)
		}
		rd.evs[t] = nil
	}
	regs := groupBy(rd.regs, np, func(r *rawReg) uint32 { return r.pat })
	rd.regs = nil
	evID := func(e *rawEvent) []byte { return rd.ids[e.typ][e.idOff : e.idOff+e.idLen] }
	regID := func(r *rawReg) []byte { return rd.ids[tEpisode][r.idOff : r.idOff+r.idLen] }

	bl := clinical.NewBuilder(rd.opt.Practice)
	bl.Grow(np, total, len(regs.items))
	var pe []rawEvent // one patient's events from every file
	var events []clinical.Event
	var regList []clinical.Registration
	var dupErrs []LineError
	for i := range rd.pats {
		p := &rd.pats[i]
		pe = pe[:0]
		for _, g := range groups {
			pe = append(pe, g.of(i)...)
		}
		slices.SortFunc(pe, func(a, b rawEvent) int {
			if c := bytes.Compare(evID(&a), evID(&b)); c != 0 {
				return c
			}
			if c := cmp.Compare(a.typ, b.typ); c != 0 {
				return c
			}
			return cmp.Compare(a.line, b.line)
		})
		events = events[:0]
		for j := range pe {
			e := &pe[j]
			if j > 0 && pe[j-1].typ == e.typ && bytes.Equal(evID(&pe[j-1]), evID(e)) {
				dupErrs = append(dupErrs, dupError(ResourceTypes[e.typ], string(evID(e)), e.line, pe[j-1].line))
				continue
			}
			var unit string
			if e.unit > 0 {
				unit = rd.units[e.unit-1]
			}
			events = append(events, clinical.Event{Date: e.date, Code: e.code, Kind: kindOf[e.typ],
				NVal: e.nval, V1: e.v1, V2: e.v2, Unit: unit, Seq: uint32(len(events))})
		}
		pr := regs.of(i)
		slices.SortFunc(pr, func(a, b rawReg) int {
			if c := bytes.Compare(regID(&a), regID(&b)); c != 0 {
				return c
			}
			return cmp.Compare(a.line, b.line)
		})
		regList = regList[:0]
		for j := range pr {
			r := &pr[j]
			if j > 0 && bytes.Equal(regID(&pr[j-1]), regID(r)) {
				dupErrs = append(dupErrs, dupError("EpisodeOfCare", string(regID(r)), r.line, pr[j-1].line))
				continue
			}
			regList = append(regList, r.reg)
		}
		slices.SortStableFunc(regList, regOrder)
		if len(dupErrs) > 0 && rd.opt.Strict {
			return nil, dupErrs[0]
		}
		err := bl.Add(clinical.Patient{ID: p.id, NHSNumber: p.nhs, Birth: p.birth, Death: p.death, Sex: p.sex,
			Regs: regList, Events: events})
		if err != nil {
			return nil, err
		}
	}
	rd.st.Resources -= len(dupErrs)
	rd.st.Bad += len(dupErrs)
	_ = rd.noteErrors(dupErrs)
	return bl.Build(), nil
}

func dupError(rtype, id string, line, first uint32) LineError {
	return LineError{File: rtype + ".ndjson", Line: int(line), ResourceID: rtype + "/" + id,
		Msg: "duplicate " + rtype + " id (first at line " + strconv.Itoa(int(first)) + ")"}
}

// grouped is a slice reordered so that each patient's items are contiguous.
type grouped[T any] struct {
	items []T
	start []uint32
}

func (g grouped[T]) of(i int) []T { return g.items[g.start[i]:g.start[i+1]] }

// groupBy groups items by patient index in place (a counting sort that
// swaps each item into its bucket), so no second copy of the import's
// largest array is made. It is not stable: callers sort each group by a
// total order afterwards.
func groupBy[T any](items []T, n int, key func(*T) uint32) grouped[T] {
	start := make([]uint32, n+1)
	for i := range items {
		start[key(&items[i])+1]++
	}
	for i := 1; i <= n; i++ {
		start[i] += start[i-1]
	}
	next := append([]uint32(nil), start[:n]...)
	for b := range n {
		for end := start[b+1]; next[b] < end; {
			i := next[b]
			k := key(&items[i])
			if int(k) == b {
				next[b]++
				continue
			}
			j := next[k]
			next[k]++
			items[i], items[j] = items[j], items[i]
		}
	}
	return grouped[T]{items: items, start: start}
}

// regOrder is the order of a patient's registrations: by start, then end
// (an open registration first), then as they came.
func regOrder(a, b clinical.Registration) int {
	if c := cmp.Compare(a.Start, b.Start); c != 0 {
		return c
	}
	return cmp.Compare(a.End, b.End)
}
