package scheduler

import (
	"fmt"
	"sync"
	"time"
)

// EventKind says what an Event is about.
type EventKind string

const (
	// EvCollectionState: a collection changed state (started, completed,
	// cancelled, paused, resumed, rescheduled, reopened).
	EvCollectionState EventKind = "collection"
	// EvJobState: a practice's job changed state (running, succeeded,
	// retry scheduled, failed, cancelled, resumed after an interruption).
	EvJobState EventKind = "job"
	// EvProgress: patients evaluated so far in a running attempt.
	EvProgress EventKind = "progress"
	// EvFault: something went wrong that an administrator should know
	// about; Message says what and what to do.
	EvFault EventKind = "fault"
	// EvIdle: nothing is running or due now; Next is when the scheduler
	// next has something to do (zero: nothing planned).
	EvIdle EventKind = "idle"
)

// Event is one thing the scheduler did or saw. Events are for live screens;
// the store holds the durable record.
type Event struct {
	Seq        uint64    `json:"seq"`
	At         time.Time `json:"at"`
	Kind       EventKind `json:"kind"`
	Collection uint64    `json:"collection,omitempty"`
	Label      string    `json:"label,omitempty"` // "QOF2526 2026-03-31"
	Practice   string    `json:"practice,omitempty"`
	Run        int       `json:"run,omitempty"`
	State      string    `json:"state,omitempty"`
	Attempt    int       `json:"attempt,omitempty"`
	Done       int       `json:"done,omitempty"`
	Total      int       `json:"total,omitempty"`
	Message    string    `json:"message,omitempty"`
	Next       time.Time `json:"next,omitempty"`
	// Missed counts events this subscriber did not receive before this one
	// because it was not keeping up; a screen seeing it re-reads Status.
	Missed int `json:"missed,omitempty"`
}

// subBuffer is each subscriber's queue. Delivery never blocks: when a
// subscriber's queue is full the event is dropped for it and counted.
const subBuffer = 256

type hub struct {
	mu   sync.Mutex
	subs map[int]*subscriber
	next int
	seq  uint64
}

type subscriber struct {
	ch     chan Event
	missed int
}

func (h *hub) subscribe() (<-chan Event, func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[int]*subscriber{}
	}
	id := h.next
	h.next++
	s := &subscriber{ch: make(chan Event, subBuffer)}
	h.subs[id] = s
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs, id)
			close(s.ch)
			h.mu.Unlock()
		})
	}
}

func (h *hub) publish(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	e.Seq = h.seq
	for _, s := range h.subs {
		ev := e
		ev.Missed = s.missed
		select {
		case s.ch <- ev:
			s.missed = 0
		default:
			s.missed++
		}
	}
}

// String renders an event as one log line.
func (e Event) String() string {
	s := e.At.UTC().Format(time.RFC3339)
	add := func(v string) {
		if v != "" {
			s += " " + v
		}
	}
	if e.Kind != EvCollectionState || e.Collection == 0 {
		add(string(e.Kind))
	}
	if e.Collection != 0 {
		add(fmt.Sprintf("collection %d", e.Collection))
	}
	add(e.Label)
	add(e.Practice)
	if e.Run > 0 {
		add(fmt.Sprintf("run %d", e.Run))
	}
	add(e.State)
	if e.Attempt > 0 {
		add(fmt.Sprintf("attempt %d", e.Attempt))
	}
	if e.Total > 0 {
		add(fmt.Sprintf("%d/%d patients", e.Done, e.Total))
	}
	if e.Kind == EvIdle {
		if e.Next.IsZero() {
			add("nothing planned")
		} else {
			add("next " + e.Next.UTC().Format(time.RFC3339))
		}
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Missed > 0 {
		s += fmt.Sprintf(" (%d earlier events missed)", e.Missed)
	}
	return s
}
