package transport

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// EventKind says what an [Incoming] is.
type EventKind int

const (
	// Message: Data holds an encoded envelope from From.
	Message EventKind = iota
	// Joined: From connected (or reconnected).
	Joined
	// Left: From's connection ended.
	Left
)

// Incoming is what the aggregator receives from its hub.
type Incoming struct {
	Kind EventKind
	From string // member id authenticated by the transport
	Data []byte
}

// Hub is the aggregator's end of a transport.
type Hub interface {
	// Recv returns the next event from any member; it blocks until one
	// arrives, ctx ends, or the hub is closed (ErrClosed).
	Recv(ctx context.Context) (Incoming, error)
	// Send delivers data to a connected member. It returns ErrNotConnected
	// (wrapped) when the member is not connected. Send may keep data after
	// it returns, and may hand the same bytes to several members: neither
	// the caller nor a receiver modifies a message once it is sent.
	Send(ctx context.Context, to string, data []byte) error
}

// Conn is a member's end of a transport.
type Conn interface {
	// Send delivers data to the aggregator. As with Hub.Send, data is not
	// modified once sent.
	Send(ctx context.Context, data []byte) error
	// Recv blocks until a message from the aggregator arrives, ctx ends, or
	// the connection closes (ErrClosed).
	Recv(ctx context.Context) ([]byte, error)
	Close() error
}

var (
	// ErrClosed is returned by Recv and Send on a closed connection or hub.
	ErrClosed = errors.New("transport: connection closed")
	// ErrNotConnected is returned by Hub.Send for a member that is not
	// connected.
	ErrNotConnected = errors.New("transport: member not connected")
)

// Network is an in-memory transport: one hub and any number of member
// connections in one process. Messages are passed, not copied: sender and
// receivers share a message's bytes, which none of them modifies (the race
// detector sees it if one does). It is safe for concurrent use.
type Network struct {
	mu      sync.Mutex
	inbox   chan Incoming
	conns   map[string]*memConn
	closed  chan struct{}
	onClose sync.Once
}

// NewNetwork returns an in-memory network whose hub buffers up to buffer
// incoming events.
func NewNetwork(buffer int) *Network {
	return &Network{
		inbox:  make(chan Incoming, buffer),
		conns:  map[string]*memConn{},
		closed: make(chan struct{}),
	}
}

// Hub returns the aggregator's end.
func (n *Network) Hub() Hub { return (*memHub)(n) }

// Close ends the network: pending and future calls return ErrClosed.
func (n *Network) Close() error {
	n.onClose.Do(func() { close(n.closed) })
	return nil
}

// Dial connects member id, replacing an earlier connection of the same
// member (which is closed), as a reconnecting process would.
func (n *Network) Dial(ctx context.Context, id string) (Conn, error) {
	c := &memConn{net: n, id: id, in: make(chan []byte, 64), done: make(chan struct{})}
	n.mu.Lock()
	old := n.conns[id]
	n.conns[id] = c
	n.mu.Unlock()
	if old != nil {
		old.closeLocal()
	}
	if err := n.deliver(ctx, Incoming{Kind: Joined, From: id}); err != nil {
		return nil, err
	}
	return c, nil
}

func (n *Network) deliver(ctx context.Context, in Incoming) error {
	select {
	case n.inbox <- in:
		return nil
	case <-n.closed:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

type memHub Network

func (h *memHub) Recv(ctx context.Context) (Incoming, error) {
	select {
	case in := <-h.inbox:
		return in, nil
	case <-h.closed:
		return Incoming{}, ErrClosed
	case <-ctx.Done():
		return Incoming{}, ctx.Err()
	}
}

func (h *memHub) Send(ctx context.Context, to string, data []byte) error {
	h.mu.Lock()
	c := h.conns[to]
	h.mu.Unlock()
	if c == nil {
		return fmt.Errorf("send to %q: %w", to, ErrNotConnected)
	}
	select {
	case c.in <- data:
		return nil
	case <-c.done:
		return fmt.Errorf("send to %q: %w", to, ErrNotConnected)
	case <-h.closed:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

type memConn struct {
	net  *Network
	id   string
	in   chan []byte
	done chan struct{}
	once sync.Once
}

func (c *memConn) Send(ctx context.Context, data []byte) error {
	select {
	case <-c.done:
		return ErrClosed
	default:
	}
	return c.net.deliver(ctx, Incoming{Kind: Message, From: c.id, Data: data})
}

func (c *memConn) Recv(ctx context.Context) ([]byte, error) {
	select {
	case m := <-c.in:
		return m, nil
	case <-c.done:
		return nil, ErrClosed
	case <-c.net.closed:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// closeLocal ends the connection without telling the hub (it was replaced).
func (c *memConn) closeLocal() { c.once.Do(func() { close(c.done) }) }

// Close ends the connection; the hub sees a Left event.
func (c *memConn) Close() error {
	first := false
	c.once.Do(func() { close(c.done); first = true })
	if !first {
		return nil
	}
	c.net.mu.Lock()
	if c.net.conns[c.id] == c {
		delete(c.net.conns, c.id)
	}
	c.net.mu.Unlock()
	select {
	case c.net.inbox <- Incoming{Kind: Left, From: c.id}:
	case <-c.net.closed:
	}
	return nil
}
