package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"gpcollections/domain"
	"gpcollections/domain/clinical"
	"gpcollections/domain/rulesets"
	"gpcollections/domain/synth"
)

// gpc bench extract: import and evaluation throughput at national scale.

func init() {
	register(benchCmd)
}

// benchCmd is the "bench" parent; other bench commands may add children
// through benchChildren.
func benchCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Benchmarks that print a table"}
	cmd.AddCommand(benchExtractCmd())
	for _, f := range benchChildren {
		cmd.AddCommand(f())
	}
	return cmd
}

// benchChildren lets other files add "gpc bench X" commands.
var benchChildren []func() *cobra.Command

type benchRow struct {
	patients, practices int
	source              string
	events              int64
	ndjsonBytes         int64
	importDur           time.Duration
	evalDur             time.Duration
	wall                time.Duration
	peakHeap            uint64
	heldHeap            uint64
	indicators          int
}

// heapSampler records the largest heap in use (live and not yet collected
// objects plus unused space in their spans, as MemStats.HeapInuse) every
// millisecond. It reads runtime/metrics, which does not stop the world, so
// sampling does not slow what it measures.
type heapSampler struct {
	stop chan struct{}
	done chan uint64
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), done: make(chan uint64)}
	go func() {
		ms := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
		var peak uint64
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(ms)
			peak = max(peak, ms[0].Value.Uint64()+ms[1].Value.Uint64())
			select {
			case <-h.stop:
				h.done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return h
}

// Stop returns the peak seen.
func (h *heapSampler) Stop() uint64 {
	close(h.stop)
	return <-h.done
}

// heapInUse is the heap in use now, after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func benchExtractCmd() *cobra.Command {
	var sizes, service, date, dir string
	var practiceSize, importMax int
	var seed int64
	cmd := &cobra.Command{
		Use:   "extract",
		Short: "Import and evaluation throughput on generated practices",
		Long: "Generates practices (default 10,000 patients each) and measures, at each total size:\n" +
			"NDJSON import rate (for sizes up to --import-max; larger sizes build the compact form straight\n" +
			"from the generator), evaluation rate of the whole rule set, wall time and peak memory.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ach, err := domain.ParseDate(date)
			if err != nil {
				return fmt.Errorf("--date: %v", err)
			}
			rs, err := rulesets.Load(service)
			if err != nil {
				return err
			}
			var ns []int
			for _, s := range strings.Split(sizes, ",") {
				n, err := strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(s), "_", ""))
				if err != nil || n <= 0 {
					return fmt.Errorf("--sizes %q: want comma-separated patient counts", sizes)
				}
				ns = append(ns, n)
			}
			if practiceSize <= 0 {
				return fmt.Errorf("--practice-size must be positive")
			}
			work := dir
			if work == "" {
				work, err = os.MkdirTemp("", "gpc-bench-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(work)
			}
			inds := 0
			for _, l := range rs.Lists {
				if !l.Manual() {
					inds++
				}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "gpc bench extract: service %s (%d indicators and registers), achievement date %s, GOMAXPROCS %d\n",
				rs.Service.ID, inds, ach, runtime.GOMAXPROCS(0))
			var rows []benchRow
			for _, n := range ns {
				row, err := benchSize(rs.Evaluate, n, practiceSize, importMax, seed, ach, work, out)
				if err != nil {
					return err
				}
				row.indicators = inds
				rows = append(rows, row)
			}
			printBench(out, rows)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&sizes, "sizes", "10000,100000,1000000", "total patients per run, comma-separated")
	f.IntVar(&practiceSize, "practice-size", 10000, "patients per practice")
	f.IntVar(&importMax, "import-max", 100000, "largest size imported from NDJSON; above it batches come straight from the generator")
	f.Int64Var(&seed, "seed", 1, "generator seed")
	f.StringVar(&service, "service", "QOF2526", "rule set to evaluate")
	f.StringVar(&date, "date", "2026-03-31", "achievement date")
	f.StringVar(&dir, "dir", "", "working directory for NDJSON (default: a temporary directory, removed)")
	return cmd
}

type evalFunc func(*clinical.Batch, domain.Date) []domain.IndicatorValue

// benchSize runs one total size.
func benchSize(eval evalFunc, n, practiceSize, importMax int, seed int64, ach domain.Date, work string, log io.Writer) (benchRow, error) {
	start := time.Now()
	row := benchRow{patients: n, practices: (n + practiceSize - 1) / practiceSize}
	var peak uint64
	var sampler *heapSampler
	opts := make([]synth.Options, row.practices)
	for p := range opts {
		size := min(practiceSize, n-p*practiceSize)
		opts[p] = synth.Options{Practice: fmt.Sprintf("B%05d", p), Patients: size, Seed: seed, AchDate: ach, FirstIndex: p * practiceSize}
	}
	batches := make([]*clinical.Batch, row.practices)
	if n <= importMax {
		row.source = "NDJSON"
		// Write the sources (not timed), then time the import alone.
		dirs := make([]string, row.practices)
		for p, o := range opts {
			dirs[p] = filepath.Join(work, o.Practice)
			nb, err := writeSource(dirs[p], o)
			if err != nil {
				return row, err
			}
			row.ndjsonBytes += nb
		}
		runtime.GC()
		sampler = startHeapSampler()
		t0 := time.Now()
		for p := range dirs {
			b, st, err := readSource(dirs[p], opts[p].Practice, true)
			if err != nil {
				return row, err
			}
			if st.Bad > 0 {
				return row, fmt.Errorf("%s: %d bad lines in generated source", dirs[p], st.Bad)
			}
			batches[p] = b
		}
		row.importDur = time.Since(t0)
		for _, d := range dirs {
			_ = os.RemoveAll(d)
		}
	} else {
		row.source = "generator"
		runtime.GC()
		sampler = startHeapSampler()
		// Generate the practices in parallel straight into compact form.
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		next := make(chan int)
		for w := 0; w < runtime.GOMAXPROCS(0); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for p := range next {
					b, err := synth.Batch(opts[p])
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					batches[p] = b
					mu.Unlock()
				}
			}()
		}
		for p := range opts {
			next <- p
		}
		close(next)
		wg.Wait()
		if firstErr != nil {
			return row, firstErr
		}
	}
	for _, b := range batches {
		row.events += int64(len(b.Events))
	}
	runtime.GC()
	t0 := time.Now()
	var rows int
	for _, b := range batches {
		rows += len(eval(b, ach))
	}
	row.evalDur = time.Since(t0)
	peak = sampler.Stop()
	row.heldHeap = heapInUse()
	runtime.KeepAlive(batches)
	row.peakHeap = peak
	row.wall = time.Since(start)
	fmt.Fprintf(log, "  %d patients: %d practices from %s, %d result rows\n", n, row.practices, row.source, rows)
	return row, nil
}

func printBench(w io.Writer, rows []benchRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "patients\tpractices\tsource\tevents/patient\timport MB/s\teval patients/s\tns/patient/indicator\twall\tpeak heap\tpeak B/event\theld heap\theld B/event\t")
	for _, r := range rows {
		imp := "-"
		if r.source == "NDJSON" && r.importDur > 0 {
			imp = fmt.Sprintf("%.0f", float64(r.ndjsonBytes)/1e6/r.importDur.Seconds())
		}
		pps := float64(r.patients) / r.evalDur.Seconds()
		nsPer := float64(r.evalDur.Nanoseconds()) / float64(r.patients) / float64(max(r.indicators, 1))
		ev := float64(max(r.events, 1))
		fmt.Fprintf(tw, "%d\t%d\t%s\t%.1f\t%s\t%.0f\t%.1f\t%s\t%s\t%.0f\t%s\t%.0f\t\n",
			r.patients, r.practices, r.source, float64(r.events)/float64(r.patients), imp, pps, nsPer,
			r.wall.Round(time.Millisecond), humanBytes(int64(r.peakHeap)), float64(r.peakHeap)/ev,
			humanBytes(int64(r.heldHeap)), float64(r.heldHeap)/ev)
	}
	tw.Flush()
	fmt.Fprintln(w, "import: NDJSON bytes / read time (fhir.Read, all cores); eval: whole rule set, all cores, practices in turn;")
	fmt.Fprintln(w, "peak heap: largest heap in use (HeapInuse: live objects, garbage not yet collected and span slack), sampled every")
	fmt.Fprintln(w, "  millisecond from the start of the import (or generation) to the end of evaluation; all batches of the size are held at once;")
	fmt.Fprintln(w, "held heap: heap in use after a collection with every batch held (the compact form, codes, rule set and runtime);")
	fmt.Fprintln(w, "B/event: that heap / coded events. The process's fixed heap (rule set, runtime, read buffers) weighs most at 10k.")
}
