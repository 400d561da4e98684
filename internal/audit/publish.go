package audit

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// A Publisher keeps the newest checkpoint away from the log's disk (the
// cluster's shared store, a witness), so that whoever controls that disk
// cannot roll the log back unnoticed. Publishers run on a goroutine of
// their own, never under the log's lock and never on a request's path:
// a slow or silent one delays nothing but its own copies.
type Publisher interface {
	// Name says which copy it is, in logs.
	Name() string
	// Publish delivers one checkpoint; ctx bounds it.
	Publish(ctx context.Context, cp Published) error
}

// Published is a checkpoint handed to the publishers.
type Published struct {
	Origin string
	Size   int64
	Root   tlog.Hash
	// Note is the signed checkpoint.
	Note []byte
	Time time.Time
	// Prove returns the RFC 6962 consistency proof from an older size to
	// Size, read from the log's hash file. It fails when the file cannot
	// serve (see HashesFile).
	Prove func(old int64) (tlog.TreeProof, error)
}

// StorePublisher keeps every published checkpoint in a CheckpointStore.
func StorePublisher(s CheckpointStore) Publisher { return storePublisher{s} }

type storePublisher struct{ s CheckpointStore }

func (p storePublisher) Name() string { return "store" }

func (p storePublisher) Publish(ctx context.Context, cp Published) error {
	return p.s.SaveAuditCheckpoint(ctx, cp.Origin, cp.Size, cp.Note, cp.Time)
}

// publishing hands checkpoints to the publishers on one goroutine, the
// newest first: a checkpoint that arrives while an older one is still
// being delivered replaces the older one's successors, never queues.
type publishing struct {
	pubs    []Publisher
	logger  *slog.Logger
	timeout time.Duration // bounds one publisher's delivery of one checkpoint

	mu      sync.Mutex // guards pending
	pending *Published

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
	// failing is per publisher: whether its last delivery failed, so that
	// an outage is logged once when it starts and once when it ends.
	failing []bool
}

func startPublishing(pubs []Publisher, timeout time.Duration, logger *slog.Logger) *publishing {
	p := &publishing{pubs: pubs, logger: logger, timeout: timeout, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}), failing: make([]bool, len(pubs))}
	go p.run()
	return p
}

// offer replaces the pending checkpoint with cp.
func (p *publishing) offer(cp Published) {
	p.mu.Lock()
	p.pending = &cp
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *publishing) take() *Published {
	p.mu.Lock()
	defer p.mu.Unlock()
	cp := p.pending
	p.pending = nil
	return cp
}

func (p *publishing) run() {
	defer close(p.done)
	for {
		select {
		case <-p.wake:
			if cp := p.take(); cp != nil {
				p.deliver(*cp)
			}
		case <-p.stop:
			if cp := p.take(); cp != nil { // the last checkpoint, written by Close
				p.deliver(*cp)
			}
			return
		}
	}
}

func (p *publishing) deliver(cp Published) {
	for i, pub := range p.pubs {
		ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
		err := pub.Publish(ctx, cp)
		cancel()
		switch {
		case err != nil && !p.failing[i]:
			p.failing[i] = true
			p.logger.Error("audit: a checkpoint could not be published; the local log goes on and the next checkpoint will be tried",
				"publisher", pub.Name(), "size", cp.Size, "error", err)
		case err == nil && p.failing[i]:
			p.failing[i] = false
			p.logger.Info("audit: checkpoints are published again", "publisher", pub.Name(), "size", cp.Size)
		}
	}
}

// close delivers the pending checkpoint, if any, and stops; it waits at
// most a little longer than one delivery may take, then leaves a
// publisher that ignores its context behind.
func (p *publishing) close() {
	close(p.stop)
	select {
	case <-p.done:
	case <-time.After(time.Duration(len(p.pubs)+1) * p.timeout):
		p.logger.Error("audit: a publisher did not return; the last checkpoint may not have been published")
	}
}
