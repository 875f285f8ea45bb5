package hub

import (
	"context"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"gpcollections/store"
	"gpcollections/store/scheduler"
	"gpcollections/tui/session"
)

// recorder is a program stand-in; while gate is held, Send blocks like a
// busy program's would.
type recorder struct {
	h    *Hub
	gate sync.Mutex
	mu   sync.Mutex
	msgs []tea.Msg
	got  chan struct{}
	// entered tells that a Send has begun (and may be held at the gate).
	entered chan struct{}
}

func newRecorder(h *Hub) *recorder {
	return &recorder{h: h, got: make(chan struct{}, 100), entered: make(chan struct{}, 100)}
}

func (r *recorder) Send(m tea.Msg) {
	r.entered <- struct{}{}
	r.gate.Lock()
	defer r.gate.Unlock()
	// The hub's lock must not be held while sending: this would deadlock.
	_ = r.h.Len()
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	r.got <- struct{}{}
}

func (r *recorder) all() []tea.Msg {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]tea.Msg(nil), r.msgs...)
}

func (r *recorder) wait(t *testing.T) {
	t.Helper()
	select {
	case <-r.got:
	case <-time.After(5 * time.Second):
		t.Fatal("no message delivered")
	}
}

func TestEveryProgramIsToldOfACommit(t *testing.T) {
	h := New()
	a, b := newRecorder(h), newRecorder(h)
	h.Register(context.Background(), a)
	h.Register(context.Background(), b)
	h.Publish([]store.Change{{Kind: "declaration", Practice: "A81001", Collection: 3}})
	a.wait(t)
	b.wait(t)
	inv := a.all()[0].(session.Invalidate)
	if !inv.Touches("declaration") || inv.Touches("job") || !inv.TouchesPractice("A81001") || inv.TouchesPractice("A81002") {
		t.Fatalf("invalidate = %+v", inv)
	}
}

func TestBusyProgramDelaysNobodyAndGetsChangesCoalesced(t *testing.T) {
	h := New()
	h.MinInterval = 0
	slow, fast := newRecorder(h), newRecorder(h)
	h.Register(context.Background(), slow)
	h.Register(context.Background(), fast)
	slow.gate.Lock()
	done := make(chan struct{})
	go func() {
		for i := 0; i < 1000; i++ {
			h.Publish([]store.Change{{Kind: "job", Collection: uint64(i % 10)}})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked behind a busy program")
	}
	fast.wait(t)
	slow.gate.Unlock()
	// The busy program gets few messages carrying the ten distinct changes.
	seen := map[uint64]bool{}
	deadline := time.After(5 * time.Second)
	for len(seen) < 10 {
		select {
		case <-slow.got:
		case <-deadline:
			t.Fatalf("changes lost: saw %v", seen)
		}
		seen = map[uint64]bool{}
		for _, m := range slow.all() {
			for _, c := range m.(session.Invalidate).Changes {
				seen[c.Collection] = true
			}
		}
	}
	if n := len(slow.all()); n > 3 {
		t.Fatalf("busy program got %d messages for one burst, want them coalesced", n)
	}
}

func TestTooManyChangesBecomeAll(t *testing.T) {
	h := New()
	r := newRecorder(h)
	r.gate.Lock()
	h.Register(context.Background(), r)
	h.Publish([]store.Change{{Kind: "warm-up"}})
	var many []store.Change
	for i := 0; i < maxPending+10; i++ {
		many = append(many, store.Change{Kind: "result", Collection: uint64(i)})
	}
	<-r.entered // the warm-up is being sent, held at the gate
	h.Publish(many)
	r.gate.Unlock()
	r.wait(t)
	r.wait(t)
	last := r.all()[len(r.all())-1].(session.Invalidate)
	if !last.All || len(last.Changes) != 0 || !last.Touches("anything") {
		t.Fatalf("overflowing changes: %+v", last)
	}
}

func TestSessionEndUnregisters(t *testing.T) {
	h := New()
	ctx, cancel := context.WithCancel(context.Background())
	h.Register(ctx, newRecorder(h))
	stop := h.Register(context.Background(), newRecorder(h))
	if h.Len() != 2 {
		t.Fatalf("len %d", h.Len())
	}
	cancel()
	stop()
	deadline := time.Now().Add(5 * time.Second)
	for h.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("still %d registered after their sessions ended", h.Len())
		}
		time.Sleep(time.Millisecond)
	}
	h.Publish([]store.Change{{Kind: "job"}}) // nobody left: must not block or panic
}

func TestBroadcastAndClose(t *testing.T) {
	h := New()
	r := newRecorder(h)
	h.Register(context.Background(), r)
	h.Broadcast(session.Closing{Reason: "server shutting down"})
	r.wait(t)
	if c, ok := r.all()[0].(session.Closing); !ok || c.Reason != "server shutting down" {
		t.Fatalf("broadcast = %#v", r.all())
	}
	h.Close()
	if h.Len() != 0 {
		t.Fatal("Close left programs registered")
	}
	h.Register(context.Background(), newRecorder(h))
	if h.Len() != 0 {
		t.Fatal("a closed hub registered a program")
	}
}

func TestSchedulerEventsAreRelayed(t *testing.T) {
	h := New()
	r := newRecorder(h)
	h.Register(context.Background(), r)
	ch := make(chan scheduler.Event, 10)
	ch <- scheduler.Event{Kind: scheduler.EvProgress, Collection: 4, Practice: "A81001", Done: 10, Total: 100}
	ch <- scheduler.Event{Kind: scheduler.EvFault, Message: "source missing"}
	close(ch)
	h.Relay(ch) // returns when the channel closes
	r.wait(t)
	kinds := map[string]bool{}
	deadline := time.After(5 * time.Second)
	for len(kinds) < 2 {
		for _, m := range r.all() {
			for _, c := range m.(session.Invalidate).Changes {
				kinds[c.Kind] = true
			}
		}
		if len(kinds) < 2 {
			select {
			case <-r.got:
			case <-deadline:
				t.Fatalf("relayed kinds %v", kinds)
			}
		}
	}
	if !kinds[session.KindProgress] || !kinds[session.KindFault] {
		t.Fatalf("relayed kinds %v", kinds)
	}
}
