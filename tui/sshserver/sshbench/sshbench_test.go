package sshbench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

func TestHasTextIgnoresTerminalSetUp(t *testing.T) {
	setup := []byte("\x1b[?25l\x1b[?1049h\x1b[2J\x1b[H\x1b[?2004h\x1b]11;?\x07\x1b[c\x1b(B\x1b=")
	if HasText(setup) {
		t.Fatal("escape sequences counted as a frame")
	}
	if !HasText(append(setup, []byte("\x1b[1msigned in as pat\x1b[0m")...)) {
		t.Fatal("a frame was not seen")
	}
}

func TestPercentileNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{50: 50 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond, 1: time.Millisecond} {
		if got := Percentile(ds, p); got != want {
			t.Errorf("p%v = %s, want %s", p, got, want)
		}
	}
	if Percentile(nil, 50) != 0 {
		t.Error("empty percentile")
	}
}

func signer(t *testing.T) gossh.Signer {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMeasuresTheBareServer(t *testing.T) {
	srv, err := BareServer("", signer(t))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	o := Options{Addr: l.Addr().String(), Signer: signer(t), Sessions: 3, Joining: 2, Presses: 2, Timeout: 10 * time.Second}
	r := Open(context.Background(), o)
	defer r.Close()
	r.Press(context.Background(), o)
	if r.Failed != 0 || r.Open() != 3 || len(r.Handshake) != 3 || len(r.FirstFrame) != 3 || len(r.Redraw) != 6 {
		t.Fatalf("failed %d (%v), open %d, samples %d/%d/%d", r.Failed, r.Err, r.Open(), len(r.Handshake), len(r.FirstFrame), len(r.Redraw))
	}
	for i := range r.Handshake {
		if r.FirstFrame[i] < r.Handshake[i] {
			t.Fatalf("first frame %s before sign-in %s", r.FirstFrame[i], r.Handshake[i])
		}
	}
}
