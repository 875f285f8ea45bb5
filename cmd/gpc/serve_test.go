package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"gpcollections/store"
)

// userSigner loads the private key initData made for a user.
func userSigner(t *testing.T, data, name string) gossh.Signer {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(filepath.Dir(data), name))
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sshRun(t *testing.T, addr string, signer gossh.Signer, line string) (string, error) {
	t.Helper()
	c, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{User: "x", Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
	if err != nil {
		return "", err
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	out, err := s.CombinedOutput(line)
	return string(out), err
}

func TestServeAnswersAndTuiPointsToIt(t *testing.T) {
	data := initData(t)
	c := defaultConfig()
	c.Data, c.Listen, c.Workers = data, "127.0.0.1:0", 1
	c.SourcesCache = filepath.Join(data, "sources-cache")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, c, slog.New(slog.DiscardHandler), func(a net.Addr, _ gossh.PublicKey) { ready <- a })
	}()
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server not ready")
	}
	out, err := sshRun(t, addr.String(), userSigner(t, data, "ann"), "whoami")
	if err != nil || !strings.HasPrefix(out, "ann (Ann Smith)") {
		t.Fatalf("whoami over ssh: %v %q", err, out)
	}
	// The data file is the server's: gpc tui says where to connect.
	_, err = gpc(t, "tui", "--data", data, "--as", "ann")
	if err == nil || !errors.Is(err, store.ErrInUse) || !strings.Contains(err.Error(), "ssh -p "+port(addr)+" 127.0.0.1") {
		t.Fatalf("gpc tui while serving: %v", err)
	}
	// So does a command that changes the timetable, and the same change
	// is made over SSH while the server runs.
	_, err = gpc(t, "timetable", "add", "--service", "QOF2526", "--ach", "2025-12-31", "--data", data)
	if err == nil || !errors.Is(err, store.ErrInUse) || !strings.Contains(err.Error(), "ssh -p "+port(addr)+" 127.0.0.1 help") {
		t.Fatalf("gpc timetable add while serving: %v", err)
	}
	out, err = sshRun(t, addr.String(), userSigner(t, data, "admin"), "timetable add --service QOF2526 --ach 2025-12-31 --reason 'over ssh'")
	if err != nil || !strings.Contains(out, "added collection") || !strings.Contains(out, "QOF2526 2025-12-31") {
		t.Fatalf("timetable add over ssh: %v %q", err, out)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := os.Stat(filepath.Join(data, serveFile)); !os.IsNotExist(err) {
		t.Fatalf("serve file left behind: %v", err)
	}
	s, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatalf("store not released: %v", err)
	}
	s.Close()
	// With no server, gpc tui needs a terminal and says so.
	if _, err := gpc(t, "tui", "--data", data, "--as", "ann"); err == nil || !strings.Contains(err.Error(), "needs a terminal") {
		t.Fatalf("gpc tui without a terminal: %v", err)
	}
}

// TestServeProcess is the server run as a child process by
// TestServeStopsGracefullyOnSIGTERM.
func TestServeProcess(t *testing.T) {
	if os.Getenv("GPC_SERVE_PROCESS") != "1" {
		t.Skip("run as a child process")
	}
	root := newRoot()
	root.SetArgs(strings.Fields(os.Getenv("GPC_SERVE_ARGS")))
	if err := root.Execute(); err != nil {
		os.Stderr.WriteString("gpc: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(0)
}

func TestServeStopsGracefullyOnSIGTERM(t *testing.T) {
	data := initData(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeProcess$")
	cmd.Env = append(os.Environ(), "GPC_SERVE_PROCESS=1",
		"GPC_SERVE_ARGS=serve --data "+data+" --listen 127.0.0.1:0 --workers 1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addrCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`ssh -p (\d+) (\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addrCh <- net.JoinHostPort(m[2], m[1])
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var addr string
	select {
	case addr = <-addrCh:
	case <-time.After(20 * time.Second):
		t.Fatalf("server did not start: %s", stderr.String())
	}
	// A terminal session is open when the signal arrives.
	client, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{User: "ann", Auth: []gossh.AuthMethod{gossh.PublicKeys(userSigner(t, data, "ann"))},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var screen safeBuffer
	sess.Stdout, sess.Stderr = &screen, &screen
	if _, err := sess.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm", 24, 80, nil); err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(screen.String(), "ann"); {
		if time.Now().After(deadline) {
			t.Fatalf("no first screen: %q", screen.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { ended <- sess.Wait() }()
	select {
	case <-ended:
	case <-time.After(20 * time.Second):
		t.Fatal("session not ended by shutdown")
	}
	if !strings.Contains(screen.String(), "server shutting down") {
		t.Fatalf("session not told: %q", screen.String())
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("server exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not exit after SIGTERM")
	}
	log := stderr.String()
	for _, want := range []string{"shutting down", "signal=terminated", "stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	s, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatalf("store not released: %v", err)
	}
	s.Close()
}

type safeBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
