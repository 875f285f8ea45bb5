// Package hub relays "something changed" between sessions: every running
// screen program registers, and after each store commit (or scheduler
// event) every registered program receives a small session.Invalidate
// message and re-reads what it shows through its own user's role filter.
//
// The registry is a map behind a mutex; sending happens outside the lock, on
// one goroutine per program, so a slow or stuck session never delays the
// committing writer or the other sessions. Changes arriving while a program
// is busy are coalesced into its next message.
package hub

import (
	"context"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"gpcollections/store"
	"gpcollections/store/scheduler"
	"gpcollections/tui/session"
)

// Sender is the part of *tea.Program the hub uses.
type Sender interface {
	Send(tea.Msg)
}

// maxPending bounds the distinct changes kept for one program; past it the
// program is told that everything changed.
const maxPending = 256

// Hub is the cross-session registry.
type Hub struct {
	// MinInterval spaces the messages to one program (default 100ms), so
	// a burst of progress updates costs each session a few redraws a second
	// rather than one per commit. Delivery stays well within a second.
	MinInterval time.Duration

	mu     sync.Mutex
	subs   map[*sub]struct{}
	closed bool
}

type sub struct {
	p    Sender
	wake chan struct{}
	done chan struct{}
	stop func()

	mu      sync.Mutex
	pending map[store.Change]struct{}
	all     bool
	extra   []tea.Msg
}

// New makes an empty hub.
func New() *Hub {
	return &Hub{MinInterval: 100 * time.Millisecond, subs: map[*sub]struct{}{}}
}

// Register adds a program until ctx ends (the session's context) or the
// returned function is called, whichever is first.
func (h *Hub) Register(ctx context.Context, p Sender) (unregister func()) {
	s := &sub{p: p, wake: make(chan struct{}, 1), done: make(chan struct{}), pending: map[store.Change]struct{}{}}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs, s)
			h.mu.Unlock()
			close(s.done)
		})
	}
	s.stop = stop
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return func() {}
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-s.done:
		}
	}()
	go h.deliver(s)
	return stop
}

// Len is how many programs are registered.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Publish queues changes for every registered program and returns at once;
// it is safe to call from a store.Subscribe callback.
func (h *Hub) Publish(changes []store.Change) {
	if len(changes) == 0 {
		return
	}
	for _, s := range h.snapshot() {
		s.mu.Lock()
		for _, c := range changes {
			if s.all {
				break
			}
			s.pending[c] = struct{}{}
			if len(s.pending) > maxPending {
				s.all, s.pending = true, map[store.Change]struct{}{}
			}
		}
		s.mu.Unlock()
		s.poke()
	}
}

// Broadcast queues msg for every registered program (e.g. session.Closing
// on shutdown). Like Publish it never blocks.
func (h *Hub) Broadcast(msg tea.Msg) {
	for _, s := range h.snapshot() {
		s.mu.Lock()
		s.extra = append(s.extra, msg)
		s.mu.Unlock()
		s.poke()
	}
}

// Attach subscribes the hub to a store's commits; the returned function
// detaches it.
func (h *Hub) Attach(st *store.Store) (detach func()) {
	return st.Subscribe(h.Publish)
}

// Close unregisters every program and refuses new ones.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	for _, s := range h.snapshot() {
		s.stop()
	}
}

func (h *Hub) snapshot() []*sub {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*sub, 0, len(h.subs))
	for s := range h.subs {
		out = append(out, s)
	}
	return out
}

func (s *sub) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// take empties the program's queue into the messages to send.
func (s *sub) take() []tea.Msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []tea.Msg
	out, s.extra = s.extra, nil
	if s.all || len(s.pending) > 0 {
		inv := session.Invalidate{All: s.all}
		if !s.all {
			inv.Changes = make([]store.Change, 0, len(s.pending))
			for c := range s.pending {
				inv.Changes = append(inv.Changes, c)
			}
		}
		out = append(out, inv)
		s.all, s.pending = false, map[store.Change]struct{}{}
	}
	return out
}

// deliver is the program's sending goroutine. Send blocks until the
// program takes the message (or has ended), outside every lock.
func (h *Hub) deliver(s *sub) {
	var last time.Time
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		}
		if wait := h.MinInterval - time.Since(last); wait > 0 && !last.IsZero() {
			t := time.NewTimer(wait)
			select {
			case <-s.done:
				t.Stop()
				return
			case <-t.C:
			}
		}
		for _, m := range s.take() {
			s.p.Send(m)
		}
		last = time.Now()
	}
}

// Relay publishes a scheduler's events until ch is closed: job and
// collection changes under their store kinds, and what the store does not
// record under session.KindProgress, KindFault and KindIdle. Events already
// waiting are taken together, so a burst of progress costs one Publish.
func (h *Hub) Relay(ch <-chan scheduler.Event) {
	for ev := range ch {
		batch := []store.Change{changeOf(ev)}
	drain:
		for len(batch) < maxPending {
			select {
			case ev, ok := <-ch:
				if !ok {
					break drain
				}
				batch = append(batch, changeOf(ev))
			default:
				break drain
			}
		}
		h.Publish(batch)
	}
}

func changeOf(ev scheduler.Event) store.Change {
	// The event kinds are the change kinds ("collection", "job",
	// "progress", "fault", "idle"); see session.Kind*.
	return store.Change{Kind: string(ev.Kind), Collection: ev.Collection, Practice: ev.Practice}
}
