package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	gossh "golang.org/x/crypto/ssh"

	"gpcollections/domain"
	"gpcollections/keys"
	"gpcollections/store"
	"gpcollections/store/ops"
	"gpcollections/tui/sshserver"
	"gpcollections/tui/sshserver/sshbench"
)

// gpc bench ssh: sign-in, first-frame and key-to-redraw latency, and server
// memory per session, for gpc's server and a bare Wish server, each run in
// its own child process so its memory is its own.

func init() {
	benchChildren = append(benchChildren, benchSSHCmd, benchSSHServerCmd)
}

func benchSSHCmd() *cobra.Command {
	var sessions, key string
	var presses, joining int
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "ssh --sessions 50,200",
		Short: "SSH latency and memory per session, against a bare Wish server in the same run",
		Long: `Starts a local gpc server (on a temporary data directory with one practice
user) and a bare Wish server rendering a one-line model, each in its own
process, and for each session count opens that many terminal sessions at once.
Sessions sign in --joining at a time (so the later ones join a server with the
earlier ones open; --joining 0 signs all in at once, a thundering herd).
It reports, for each server: sign-in (TCP connect, key exchange, public-key
authentication) and first-frame times from the start of the connection,
key-press-to-redraw times (every session types --key --presses times), and the
server's memory (Go heap and stacks in use) per open session.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			counts, err := parseCounts(sessions)
			if err != nil {
				return err
			}
			return benchSSH(cmd.Context(), cmd.OutOrStdout(), counts, sshbench.Options{Key: key, Presses: presses, Joining: joining, Timeout: timeout})
		},
	}
	cmd.Flags().StringVar(&sessions, "sessions", "50,200", "concurrent session counts, comma-separated")
	cmd.Flags().StringVar(&key, "key", "?", "the key each session types to make its screen redraw")
	cmd.Flags().IntVar(&presses, "presses", 5, "key presses per session")
	cmd.Flags().IntVar(&joining, "joining", 4, "sessions signing in at the same time while they are opened (0: all at once)")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "longest wait for a sign-in, a first frame or a redraw")
	return cmd
}

func parseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 5000 {
			return nil, fmt.Errorf("--sessions %q: want counts from 1 to 5000, comma-separated", s)
		}
		out = append(out, n)
	}
	return out, nil
}

type sshBenchRow struct {
	kind               string
	sessions, open     int
	hs, ff, rd         []time.Duration
	memPerSession      float64 // bytes
	failed             int
	err                error
	heapBase, heapOpen uint64
	presses            int
}

func benchSSH(ctx context.Context, w io.Writer, counts []int, opt sshbench.Options) error {
	dir, err := os.MkdirTemp("", "gpc-bench-ssh-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	data := filepath.Join(dir, "data")
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		return err
	}
	if err := benchData(data, signer.PublicKey()); err != nil {
		return fmt.Errorf("bench data: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	joining := fmt.Sprintf("%d at a time", opt.Joining)
	if opt.Joining <= 0 {
		joining = "all at once"
	}
	fmt.Fprintf(w, "gpc bench ssh: %d cores, GOMAXPROCS %d, %s; servers in child processes on 127.0.0.1; sessions sign in %s, then all type %q %d times\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), joining, opt.Key, opt.Presses)
	var rows []sshBenchRow
	for _, n := range counts {
		for _, kind := range []string{"bare", "gpc"} {
			o := opt
			o.Signer, o.Sessions = signer, n
			row, err := benchSSHOne(ctx, exe, data, kind, n, o)
			if err != nil {
				return fmt.Errorf("%s server, %d sessions: %w", kind, n, err)
			}
			rows = append(rows, row)
		}
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\tsessions\tsign-in p50 ms\tp99\tfirst frame p50 ms\tp99\tkey→redraw p50 ms\tp99\tmemory/session MB\tfailed\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%.3f\t%d\t\n", r.kind, r.sessions,
			ms(sshbench.Percentile(r.hs, 50)), ms(sshbench.Percentile(r.hs, 99)),
			ms(sshbench.Percentile(r.ff, 50)), ms(sshbench.Percentile(r.ff, 99)),
			ms(sshbench.Percentile(r.rd, 50)), ms(sshbench.Percentile(r.rd, 99)),
			r.memPerSession/(1<<20), r.failed)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	ratio := func(a, b time.Duration) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", float64(a)/float64(b))
	}
	for i := 0; i+1 < len(rows); i += 2 {
		bare, g := rows[i], rows[i+1]
		fmt.Fprintf(w, "%d sessions, gpc p99 / bare p99: sign-in %s, first frame %s, key→redraw %s; memory %.2f MB/session (goal: p99s within 1.5x, < 1 MB)\n",
			g.sessions, ratio(sshbench.Percentile(g.hs, 99), sshbench.Percentile(bare.hs, 99)),
			ratio(sshbench.Percentile(g.ff, 99), sshbench.Percentile(bare.ff, 99)),
			ratio(sshbench.Percentile(g.rd, 99), sshbench.Percentile(bare.rd, 99)), g.memPerSession/(1<<20))
	}
	for _, r := range rows {
		if r.err != nil {
			fmt.Fprintf(w, "%s, %d sessions: %d failed; first error: %v\n", r.kind, r.sessions, r.failed, r.err)
		}
	}
	return nil
}

// benchSSHOne runs one server kind with n sessions.
func benchSSHOne(ctx context.Context, exe, data, kind string, n int, o sshbench.Options) (sshBenchRow, error) {
	row := sshBenchRow{kind: kind, sessions: n, presses: o.Presses}
	child := exec.CommandContext(ctx, exe, "bench", "ssh-server", "--kind", kind, "--data", data)
	child.Stderr = os.Stderr
	in, err := child.StdinPipe()
	if err != nil {
		return row, err
	}
	outPipe, err := child.StdoutPipe()
	if err != nil {
		return row, err
	}
	if err := child.Start(); err != nil {
		return row, err
	}
	defer func() {
		in.Close()
		done := make(chan struct{})
		go func() { _ = child.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = child.Process.Kill()
			<-done
		}
	}()
	out := bufio.NewReader(outPipe)
	line, err := out.ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		return row, fmt.Errorf("server did not start (%q, %v)", line, err)
	}
	o.Addr = addr
	mem := func() (uint64, error) {
		if _, err := io.WriteString(in, "mem\n"); err != nil {
			return 0, err
		}
		l, err := out.ReadString('\n')
		if err != nil {
			return 0, err
		}
		f := strings.Fields(l)
		if len(f) != 2 || f[0] != "mem" {
			return 0, fmt.Errorf("server answered %q", l)
		}
		return strconv.ParseUint(f[1], 10, 64)
	}
	if row.heapBase, err = mem(); err != nil {
		return row, err
	}
	run := sshbench.Open(ctx, o)
	defer run.Close()
	row.open = run.Open()
	// Let the screens settle (first renders, initial reads) before weighing.
	time.Sleep(500 * time.Millisecond)
	if row.heapOpen, err = mem(); err != nil {
		return row, err
	}
	if row.open > 0 && row.heapOpen > row.heapBase {
		row.memPerSession = float64(row.heapOpen-row.heapBase) / float64(row.open)
	}
	run.Press(ctx, o)
	row.hs, row.ff, row.rd, row.failed, row.err = run.Handshake, run.FirstFrame, run.Redraw, run.Failed, run.Err
	return row, nil
}

// benchData makes a data directory with a commissioner, a practice and a
// practice user ("bench") holding the benchmark's key, the shipped services
// and their timetables.
func benchData(dir string, pub gossh.PublicKey) error {
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	k, err := keys.ParseAuthorizedKey(string(gossh.MarshalAuthorizedKey(pub)), today())
	if err != nil {
		return err
	}
	admin, err := ops.Bootstrap(st, "admin", "Bench Admin", domain.PublicKey{})
	if err != nil {
		return err
	}
	if err := seedServices(st, admin); err != nil {
		return err
	}
	if err := ops.AddOrg(st, admin, &domain.Org{Code: "QWE", Kind: domain.OrgCommissioner, Name: "Bench ICB"}); err != nil {
		return err
	}
	if err := ops.AddOrg(st, admin, &domain.Org{Code: "A81001", Kind: domain.OrgPractice, Name: "Bench Surgery", Parent: "QWE",
		ListSizes: []domain.ListSize{{From: domain.MustDate("2025-01-01"), Size: 9000}}}); err != nil {
		return err
	}
	b, err := domain.BundleByName("practice-staff")
	if err != nil {
		return err
	}
	u := &domain.User{Name: "bench", FullName: "Bench Practice User", Keys: []domain.PublicKey{k}}
	for _, r := range b.Roles {
		if err := u.AddGrant(domain.Grant{Org: "A81001", OrgKind: domain.OrgPractice, Role: r}); err != nil {
			return err
		}
	}
	if err := ops.AddUser(st, admin, u); err != nil {
		return err
	}
	var services []string
	if err := st.View(func(tx *store.Tx) error {
		defs, err := tx.Services()
		for _, d := range defs {
			services = append(services, d.ID)
		}
		return err
	}); err != nil {
		return err
	}
	for _, id := range services {
		if _, err := ops.GenerateTimetable(st, admin, id); err != nil {
			return err
		}
	}
	return nil
}

// benchSSHServerCmd is the child process of gpc bench ssh: it serves until
// its stdin closes, answering "mem" with the Go heap and stacks in use.
func benchSSHServerCmd() *cobra.Command {
	var kind, data string
	cmd := &cobra.Command{
		Use:    "ssh-server --kind gpc|bare --data DIR",
		Short:  "The server side of gpc bench ssh (run by it)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			hostKey, err := keys.LoadOrCreateHostKey(data)
			if err != nil {
				return err
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			var stop func()
			switch kind {
			case "bare":
				srv, err := sshbench.BareServer("", hostKey)
				if err != nil {
					return err
				}
				go func() { _ = srv.Serve(l) }()
				stop = func() { _ = srv.Close() }
			case "gpc":
				st, err := store.Open(data, store.Options{})
				if err != nil {
					return err
				}
				defer st.Close()
				// The limits as served, except the per-address throttle:
				// every benchmark session comes from 127.0.0.1.
				d := defaultConfig()
				srv, err := sshserver.New(sshserver.Config{HostKey: hostKey, Store: st, Factory: screens,
					IdleTimeout: d.IdleTimeout, MaxSession: d.MaxSession, MaxAuthTries: d.MaxAuthTries, AuthPerMinute: 0})
				if err != nil {
					return err
				}
				go func() { _ = srv.Serve(l) }()
				stop = func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					_ = srv.Shutdown(ctx)
				}
			default:
				return fmt.Errorf("--kind %q: want gpc or bare", kind)
			}
			defer stop()
			fmt.Fprintf(cmd.OutOrStdout(), "listening %s\n", l.Addr())
			sc := bufio.NewScanner(cmd.InOrStdin())
			for sc.Scan() {
				if sc.Text() == "mem" {
					runtime.GC()
					runtime.GC()
					var m runtime.MemStats
					runtime.ReadMemStats(&m)
					fmt.Fprintf(cmd.OutOrStdout(), "mem %d\n", m.HeapInuse+m.StackInuse)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "gpc", "gpc or bare")
	cmd.Flags().StringVar(&data, "data", "", "data directory")
	return cmd
}
