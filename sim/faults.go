package sim

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/fedcrypt/fedcrypt/client"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/transport"
)

// ErrFault is what a connection Faults dropped returns: it wraps
// [transport.ErrClosed], as a crashed member's connection would.
var ErrFault = fmt.Errorf("connection dropped (simulated fault): %w", transport.ErrClosed)

// Stage is a point in a round where a simulated fault strikes.
type Stage int

const (
	BeforeUpload Stage = iota // the round's announcement arrives
	AfterUpload               // the member's upload has been sent
	AtDecryption              // a decryption request arrives
)

func (s Stage) String() string {
	return [...]string{"before upload", "after upload", "at decryption"}[s]
}

// Faults injects one member's failures into its connections, from outside
// the member's node, as a crash and restart of its process would show: the
// connection closes (the aggregator sees the member leave) and the member
// dials again. A fault strikes where the member's messages say it stands:
//
//   - [BeforeUpload]: the round's announcement arrives, and is not
//     delivered;
//   - [AfterUpload]: the member's upload of the round has been sent;
//   - [AtDecryption]: a decryption request of the round arrives, and
//     is not delivered.
//
// Each round fails at most once, at the stage the plan names, across all
// the connections [Faults.Conn] wraps. Faults is safe for concurrent use.
type Faults struct {
	plan    func(round uint64) (at Stage, fail bool)
	mu      sync.Mutex
	decided map[uint64]int // the stage planned for a round, -1 for none
}

// NewFaults returns the faults of plan, which names the stage at which a
// round fails, if it does; it is asked once per round.
func NewFaults(plan func(round uint64) (at Stage, fail bool)) *Faults {
	return &Faults{plan: plan, decided: map[uint64]int{}}
}

// Dropouts returns the plan of a member that fails each round with
// probability p, at a stage drawn uniformly, from draws read from r: a
// seeded stream gives the same plan for the same order in which the rounds
// are asked about (the order a member meets them in).
func Dropouts(p float64, r io.Reader) func(round uint64) (Stage, bool) {
	return func(uint64) (Stage, bool) {
		if uniform(r) >= p {
			return 0, false
		}
		return Stage(int(uniform(r) * 3)), true
	}
}

// Dialer returns dial with f's faults injected into every connection it
// opens.
func (f *Faults) Dialer(dial client.Dialer) client.Dialer {
	return func(ctx context.Context) (transport.Conn, error) {
		conn, err := dial(ctx)
		if err != nil {
			return nil, err
		}
		return f.Conn(conn), nil
	}
}

// Conn returns conn with f's faults injected. Once one strikes, conn is
// closed and every call returns an error wrapping [transport.ErrClosed].
func (f *Faults) Conn(conn transport.Conn) transport.Conn {
	return &faultyConn{f: f, conn: conn}
}

// Stages of the messages at which a fault can strike, as they arrive at the
// member and as the member sends them.
var (
	recvStages = map[string]Stage{protocol.KindRound: BeforeUpload, protocol.KindDecrypt: AtDecryption}
	sendStages = map[string]Stage{protocol.KindUpload: AfterUpload}
)

// strikes reports whether msg, at the stage stages gives its kind, meets
// its round's planned fault, and marks the fault done.
func (f *Faults) strikes(msg []byte, stages map[string]Stage) bool {
	env, err := protocol.ParseEnvelope(msg)
	if err != nil {
		return false
	}
	at, ok := stages[env.Kind]
	if !ok {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	stage, ok := f.decided[env.Round]
	if !ok {
		stage = -1
		if s, fail := f.plan(env.Round); fail {
			stage = int(s)
		}
	}
	if stage != int(at) {
		f.decided[env.Round] = stage
		return false
	}
	f.decided[env.Round] = -1 // once per round
	return true
}

type faultyConn struct {
	f       *Faults
	conn    transport.Conn
	mu      sync.Mutex
	dropped bool
}

func (c *faultyConn) Send(ctx context.Context, data []byte) error {
	if c.isDropped() {
		return ErrFault
	}
	if err := c.conn.Send(ctx, data); err != nil {
		return err
	}
	if c.f.strikes(data, sendStages) {
		c.drop()
	}
	return nil
}

func (c *faultyConn) Recv(ctx context.Context) ([]byte, error) {
	if c.isDropped() {
		return nil, ErrFault
	}
	data, err := c.conn.Recv(ctx)
	if err != nil {
		return nil, err
	}
	if c.f.strikes(data, recvStages) {
		c.drop()
		return nil, ErrFault
	}
	return data, nil
}

func (c *faultyConn) Close() error { return c.conn.Close() }

func (c *faultyConn) isDropped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped
}

func (c *faultyConn) drop() {
	c.mu.Lock()
	c.dropped = true
	c.mu.Unlock()
	c.conn.Close()
}
