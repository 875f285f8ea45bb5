package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// demoRun is a running `gpc demo` child process and the lines it printed.
type demoRun struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	done  chan error
}

func startDemo(t *testing.T, bin, data string) *demoRun {
	t.Helper()
	cmd := exec.Command(bin, "demo", "--data", data, "--listen", "127.0.0.1:0", "--scale", "0.05")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &demoRun{cmd: cmd, done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			d.mu.Lock()
			d.lines = append(d.lines, sc.Text())
			d.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, out)
		d.done <- cmd.Wait()
	}()
	t.Cleanup(func() { d.stop(t) })
	return d
}

// waitFor waits for a printed line matching re.
func (d *demoRun) waitFor(t *testing.T, re *regexp.Regexp, within time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		d.mu.Lock()
		for _, l := range d.lines {
			if m := re.FindStringSubmatch(l); m != nil {
				d.mu.Unlock()
				return m
			}
		}
		d.mu.Unlock()
		select {
		case err := <-d.done:
			d.done <- err
			t.Fatalf("gpc demo exited (%v) before printing %s:\n%s", err, re, d.output())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("gpc demo did not print %s within %s:\n%s", re, within, d.output())
	return nil
}

func (d *demoRun) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.lines, "\n")
}

func (d *demoRun) stop(t *testing.T) {
	if d.cmd.ProcessState != nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		t.Error("gpc demo did not stop on SIGTERM")
	}
}

// The demo on an empty directory seeds, serves, and prints ssh lines that
// work: the real OpenSSH client, driven through tmux, signs in as the
// practice user and sees the timetable; a command without a terminal works
// too; a second run reuses the data.
func TestDemoPrintsWorkingSSHLines(t *testing.T) {
	if testing.Short() {
		t.Skip("builds gpc and seeds a demo")
	}
	for _, tool := range []string{"ssh", "tmux"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (CI installs openssh-client and tmux)", tool)
		}
	}
	dir := t.TempDir()
	bin := buildGPC(t, dir)
	data := filepath.Join(dir, "demo")
	d := startDemo(t, bin, data)
	m := d.waitFor(t, regexp.MustCompile(`^\s+ann\s+practice-staff@A81001\s+(ssh .*)$`), 4*time.Minute)
	line := m[1]
	if !strings.Contains(line, "-i "+filepath.Join(data, "demo-keys", "ann")) || !strings.Contains(line, "IdentitiesOnly=yes") {
		t.Fatalf("ssh line: %s", line)
	}
	for _, bundle := range []string{"admin@X26", "commissioner-approver@QWE", "commissioner-finance@QWE", "support@X26", "requester@X24"} {
		if !strings.Contains(d.output(), bundle) {
			t.Errorf("no ssh line for %s:\n%s", bundle, d.output())
		}
	}

	// A command without a terminal, exactly as printed plus the command.
	args := strings.Fields(line)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, args[0], append(append(args[1:], "-o", "BatchMode=yes"), "timetable")...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "QOF2526") || !strings.Contains(string(out), "FLU2526") {
		t.Fatalf("ssh timetable: %v\n%s", err, out)
	}

	// Declarations were left in several states: the approver has Hill
	// Road's year end to approve, finance has Church Street's.
	for who, want := range map[string]string{"cara": "A81002", "finn": "A81004"} {
		m := d.waitFor(t, regexp.MustCompile(`^\s+`+who+`\s+\S+\s+(ssh .*)$`), time.Second)
		a := strings.Fields(m[1])
		out, err := exec.CommandContext(ctx, a[0], append(append(a[1:], "-o", "BatchMode=yes"), "queue", "--json")...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) || !strings.Contains(string(out), "QOF2526") {
			t.Errorf("%s's queue lacks %s QOF2526: %v\n%s", who, want, err, out)
		}
	}

	// The interface, in a real terminal: tmux runs the printed line.
	session := fmt.Sprintf("gpc-demo-%d", os.Getpid())
	tmux := func(a ...string) string {
		out, err := exec.Command("tmux", a...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", a, err, out)
		}
		return string(out)
	}
	tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "36", line)
	defer exec.Command("tmux", "kill-session", "-t", session).Run()
	screen := func(want string) string {
		deadline := time.Now().Add(20 * time.Second)
		var got string
		for time.Now().Before(deadline) {
			got = tmux("capture-pane", "-t", session, "-p")
			if strings.Contains(got, want) {
				return got
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("the screen never showed %q:\n%s", want, got)
		return ""
	}
	home := screen("Ann Okafor")
	if !strings.Contains(home, "Declare QOF2526") {
		t.Errorf("home shows no declaration task:\n%s", home)
	}
	tmux("send-keys", "-t", session, "2")
	tt := screen("extraction window")
	for _, want := range []string{"QOF2526", "FLU2526", "LDHC2526"} {
		if !strings.Contains(tt, want) {
			t.Errorf("timetable lacks %s:\n%s", want, tt)
		}
	}
	tmux("send-keys", "-t", session, "q")

	// A second run reuses the data.
	d.stop(t)
	d2 := startDemo(t, bin, data)
	d2.waitFor(t, regexp.MustCompile(`reusing `+regexp.QuoteMeta(data)), time.Minute)
	d2.waitFor(t, regexp.MustCompile(`^\s+ann\s+practice-staff@A81001\s+ssh `), time.Minute)
}
