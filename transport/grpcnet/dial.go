package grpcnet

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/fedcrypt/fedcrypt/proto/fedcrypt/v1"
	"github.com/fedcrypt/fedcrypt/transport"
)

// DialConfig configures a member's connections to the aggregator.
type DialConfig struct {
	// Addr is the aggregator's host:port.
	Addr string
	// Member is this member's id; it must be the one its certificate names.
	Member string
	// Credentials hold the federation CA, and the member's client
	// certificate and key.
	Credentials Credentials
	// ServerName is the name the aggregator's certificate must be valid
	// for; empty means Addr's host.
	ServerName string
	// MaxMessageBytes limits one envelope either way; 0 means
	// DefaultMaxMessageBytes.
	MaxMessageBytes int
	// KeepAlive is how long the connection may be idle before the member
	// pings the aggregator, and how long it waits for the answer; 0 means
	// 30 seconds.
	KeepAlive time.Duration
	// RetryFor is how long Dial keeps trying to reach the aggregator, with
	// exponential backoff from MinBackoff to MaxBackoff and full jitter;
	// 0 means one attempt.
	RetryFor               time.Duration
	MinBackoff, MaxBackoff time.Duration // 0 means 200 ms and 10 s
	// ConnectTimeout bounds one attempt: the TCP connection, the TLS
	// handshake and the aggregator's acceptance; 0 means 10 seconds.
	ConnectTimeout time.Duration
	Logger         *slog.Logger
}

// maxQueuedMessages bounds the aggregator's messages a member has received
// but not yet read: far more than one round or key ceremony sends it.
const maxQueuedMessages = 1 << 14

// Dialer returns a function that opens a connection to the aggregator on
// each call, as client.Run wants it.
func Dialer(cfg DialConfig) func(ctx context.Context) (transport.Conn, error) {
	return func(ctx context.Context) (transport.Conn, error) { return Dial(ctx, cfg) }
}

// Dial connects to the aggregator and opens the member's session. It
// retries unreachable aggregators with backoff for cfg.RetryFor; a refusal
// by the aggregator (certificate not accepted, identity mismatch) is not
// retried.
func Dial(ctx context.Context, cfg DialConfig) (transport.Conn, error) {
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = 30 * time.Second
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = 200 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := cfg.ServerName
	if name == "" {
		host, _, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("grpcnet: aggregator address %q: %w", cfg.Addr, err)
		}
		name = host
	}
	tc, err := clientTLS(cfg.Credentials, name)
	if err != nil {
		return nil, fmt.Errorf("grpcnet: member %q: %w", cfg.Member, err)
	}
	deadline := time.Now().Add(cfg.RetryFor)
	backoff := cfg.MinBackoff
	for attempt := 1; ; attempt++ {
		c, err := dialOnce(ctx, cfg, tc)
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if permanent(err) || !time.Now().Add(backoff).Before(deadline) {
			return nil, fmt.Errorf("grpcnet: connect to %s as %q (attempt %d): %w", cfg.Addr, cfg.Member, attempt, err)
		}
		wait := jitter(backoff)
		log.Info("aggregator unreachable, retrying", "hospital", cfg.Member, "attempt", attempt, "wait", wait, "err", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		backoff = min(2*backoff, cfg.MaxBackoff)
	}
}

// permanent reports whether the aggregator refused the member, or the
// member refused the aggregator's certificate, rather than the aggregator
// being unreachable. gRPC reports failed TLS handshakes as Unavailable,
// with the TLS or X.509 error in the message.
func permanent(err error) bool {
	switch status.Code(err) {
	case codes.PermissionDenied, codes.Unauthenticated, codes.InvalidArgument, codes.Unimplemented:
		return true
	case codes.Unavailable:
		msg := status.Convert(err).Message()
		return strings.Contains(msg, "tls: ") || strings.Contains(msg, "x509: ")
	}
	return false
}

// jitter draws a wait uniformly in [d/2, d] ("equal jitter"), so members
// restarted together do not reconnect in lockstep.
func jitter(d time.Duration) time.Duration {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return d
	}
	half := d / 2
	return half + time.Duration(binary.LittleEndian.Uint64(b[:])%uint64(half+1))
}

func dialOnce(ctx context.Context, cfg DialConfig, tc *tls.Config) (*conn, error) {
	cc, err := grpc.NewClient(cfg.Addr,
		grpc.WithTransportCredentials(credentials.NewTLS(tc)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: cfg.KeepAlive, Timeout: cfg.KeepAlive}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(ChunkBytes+frameOverhead), grpc.MaxCallSendMsgSize(ChunkBytes+frameOverhead)),
	)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(context.Background(), memberHeader, cfg.Member))
	// The stream outlives ctx; ctx and the connect timeout bound only the
	// opening.
	octx, ocancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer ocancel()
	stop := context.AfterFunc(octx, cancel)
	stream, err := pb.NewFederationClient(cc).Connect(sctx, grpc.WaitForReady(false))
	if err == nil {
		// The aggregator answers with headers naming the member once it
		// accepted it; a refusal ends the stream without them, and its
		// status comes with the first Recv.
		var md metadata.MD
		if md, err = stream.Header(); err == nil && len(md.Get(memberHeader)) == 0 {
			if _, err = stream.Recv(); err == nil {
				err = errors.New("the aggregator did not accept the member")
			}
		}
	}
	if !stop() || err != nil {
		cancel()
		cc.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if octx.Err() != nil {
			return nil, fmt.Errorf("no answer within %v", cfg.ConnectTimeout)
		}
		return nil, err
	}
	c := &conn{cc: cc, stream: stream, cancel: cancel, ready: make(chan struct{}, 1), done: make(chan struct{}),
		max: cfg.MaxMessageBytes}
	c.wg.Add(1)
	go c.read()
	return c, nil
}

// conn is a member's session with the aggregator. Send and Recv may be
// called concurrently with each other and with Close.
//
// Its reader always drains the stream into a queue, however long the
// member takes to call Recv: a member busy sending (its Shamir shares to
// every other key holder, say) must never stop reading, or the aggregator,
// blocked sending to it, would stop reading the member's own messages and
// both would wait for each other. The queue holds at most
// maxQueuedMessages of the aggregator's messages; beyond that the session
// ends.
type conn struct {
	cc     *grpc.ClientConn
	stream pb.Federation_ConnectClient
	cancel context.CancelFunc
	max    int
	mu     sync.Mutex
	queue  [][]byte
	ready  chan struct{} // signalled when the queue grows
	done   chan struct{} // closed when the stream ends
	err    error         // why, set before done closes
	wg     sync.WaitGroup
	sendMu sync.Mutex
	once   sync.Once
}

func (c *conn) read() {
	defer c.wg.Done()
	a := assembler{max: c.max}
	var err error
	for {
		var f *pb.Frame
		if f, err = c.stream.Recv(); err != nil {
			break
		}
		var msg []byte
		if msg, err = a.add(f); err != nil {
			c.cancel()
			break
		}
		if msg == nil {
			continue
		}
		c.mu.Lock()
		if len(c.queue) >= maxQueuedMessages {
			c.mu.Unlock()
			err = fmt.Errorf("%d messages from the aggregator left unread", len(c.queue))
			c.cancel()
			break
		}
		c.queue = append(c.queue, msg)
		c.mu.Unlock()
		select {
		case c.ready <- struct{}{}:
		default:
		}
	}
	c.err = err
	close(c.done)
}

// Send writes one envelope. If ctx ends while it is being written, the
// session is torn down (a half-written envelope cannot be recalled).
func (c *conn) Send(ctx context.Context, data []byte) error {
	if len(data) > c.max {
		return fmt.Errorf("send: %w (%d bytes, limit %d)", ErrTooLarge, len(data), c.max)
	}
	if len(data) == 0 {
		return errors.New("send: empty message")
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	select {
	case <-c.done:
		return c.closedErr()
	default:
	}
	stop := context.AfterFunc(ctx, c.cancel)
	defer stop()
	for _, f := range split(data, ChunkBytes) {
		if err := c.stream.Send(f); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w: %v", transport.ErrClosed, err)
		}
	}
	return nil
}

// Recv returns the next envelope from the aggregator; once the session has
// ended it returns an error wrapping [transport.ErrClosed] and the cause.
func (c *conn) Recv(ctx context.Context) ([]byte, error) {
	for {
		if m := c.pop(); m != nil {
			return m, nil
		}
		select {
		case <-c.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.done:
			if m := c.pop(); m != nil {
				return m, nil
			}
			return nil, c.closedErr()
		}
	}
}

func (c *conn) pop() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		return nil
	}
	m := c.queue[0]
	c.queue[0] = nil
	c.queue = c.queue[1:]
	return m
}

func (c *conn) closedErr() error {
	if c.err == nil || status.Code(c.err) == codes.Canceled {
		return transport.ErrClosed
	}
	return fmt.Errorf("%w: %w", transport.ErrClosed, c.err)
}

// closeGrace bounds how long Close waits for what was sent to reach the
// aggregator.
const closeGrace = 5 * time.Second

// Close ends the session; the aggregator sees the member leave after every
// message Send returned for (as with the in-memory transport), unless that
// takes longer than closeGrace.
func (c *conn) Close() error {
	c.once.Do(func() {
		// Half-close after any Send in progress; the aggregator reads the
		// rest, sees the end and ends the stream.
		halfClosed := make(chan struct{})
		go func() {
			c.sendMu.Lock()
			c.stream.CloseSend()
			c.sendMu.Unlock()
			close(halfClosed)
		}()
		grace := time.NewTimer(closeGrace)
		defer grace.Stop()
		select {
		case <-halfClosed:
			select {
			case <-c.done:
			case <-grace.C:
			}
		case <-grace.C:
		}
		c.cancel()
		<-halfClosed
		c.wg.Wait()
		c.cc.Close()
	})
	return nil
}
