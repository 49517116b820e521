package grpcnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	pb "github.com/fedcrypt/fedcrypt/proto/fedcrypt/v1"
	"github.com/fedcrypt/fedcrypt/transport"
)

// memberHeader is the metadata key a member's connection states its id
// under; the server checks it against the certificate, and answers with
// the id it authenticated.
const memberHeader = "fedcrypt-member"

// ServiceName is the name the health service reports the federation under.
const ServiceName = "fedcrypt.v1.Federation"

// ServerConfig configures the aggregator's end of the gRPC transport.
type ServerConfig struct {
	// Credentials hold the federation CA, and the aggregator's server
	// certificate and key.
	Credentials Credentials
	// Members are the ids whose certificates may connect.
	Members []string
	// Pins, when a member has one, is the hex SHA-256 of the public key
	// its certificate must carry ([KeyPin]); Removed are ids of former
	// members (a federation config's lineage), refused by name.
	Pins    map[string]string
	Removed []string
	// MaxMessageBytes limits one envelope either way; 0 means
	// DefaultMaxMessageBytes.
	MaxMessageBytes int
	// Buffer is how many incoming events wait for Recv; 0 means 64.
	Buffer int
	// SendTimeout bounds writing one message to a member; a member that
	// does not take it in time is disconnected. 0 means two minutes.
	SendTimeout time.Duration
	// KeepAlive is how long a connection may be idle before the server
	// pings it, and how long it waits for the answer; 0 means 30 seconds.
	KeepAlive time.Duration
	// MaxStreams limits concurrent streams on one connection; 0 means 4.
	MaxStreams uint32
	Logger     *slog.Logger
	Metrics    *Metrics // nil records nothing
	// Now is the clock certificates are checked against; nil is time.Now.
	Now func() time.Time
}

// Server is the aggregator's end of the gRPC transport: a [transport.Hub]
// whose members connect over mutual TLS 1.3, each identified by its client
// certificate. It is safe for concurrent use.
type Server struct {
	pb.UnimplementedFederationServer
	cfg      ServerConfig
	log      *slog.Logger
	grpc     *grpc.Server
	health   *health.Server
	inbox    chan transport.Incoming
	closed   chan struct{} // Recv and Send stop
	draining chan struct{} // writers flush what is queued, then end their sessions
	shutOnce sync.Once
	workers  sync.WaitGroup

	mu       sync.Mutex
	sessions map[string]*session
}

// session is one member's open stream.
type session struct {
	id     string
	out    chan []byte
	ctx    context.Context
	cancel context.CancelCauseFunc
}

var (
	errReplaced = errors.New("replaced by a newer connection of the same member")
	errShutdown = errors.New("aggregator shutting down")
	errSlow     = errors.New("member did not take a message within the send timeout")
)

// NewServer checks the configuration and builds the server; [Server.Serve]
// accepts connections.
func NewServer(cfg ServerConfig) (*Server, error) {
	if len(cfg.Members) == 0 {
		return nil, errors.New("grpcnet: server: no members")
	}
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.MaxMessageBytes < 0 {
		return nil, fmt.Errorf("grpcnet: server: message limit %d bytes", cfg.MaxMessageBytes)
	}
	if cfg.Buffer == 0 {
		cfg.Buffer = 64
	}
	if cfg.SendTimeout == 0 {
		cfg.SendTimeout = 2 * time.Minute
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = 30 * time.Second
	}
	if cfg.MaxStreams == 0 {
		cfg.MaxStreams = 4
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, log: cfg.Logger, inbox: make(chan transport.Incoming, cfg.Buffer),
		closed: make(chan struct{}), draining: make(chan struct{}), sessions: map[string]*session{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	members := map[string]bool{}
	for _, m := range cfg.Members {
		members[m] = true
	}
	tc, err := serverTLS(cfg.Credentials, members, allowedBy(cfg.Pins, cfg.Removed), cfg.Now, s.refuse)
	if err != nil {
		return nil, fmt.Errorf("grpcnet: server: %w", err)
	}
	s.grpc = grpc.NewServer(
		grpc.Creds(credentials.NewTLS(tc)),
		grpc.MaxRecvMsgSize(ChunkBytes+frameOverhead),
		grpc.MaxSendMsgSize(ChunkBytes+frameOverhead),
		grpc.MaxConcurrentStreams(cfg.MaxStreams),
		grpc.ConnectionTimeout(20*time.Second),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: cfg.KeepAlive, Timeout: cfg.KeepAlive}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: cfg.KeepAlive / 3, PermitWithoutStream: true}),
	)
	pb.RegisterFederationServer(s.grpc, s)
	s.health = health.NewServer()
	s.health.SetServingStatus(ServiceName, healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	return s, nil
}

// Serve accepts connections on l until [Server.Shutdown]; it then returns nil.
func (s *Server) Serve(l net.Listener) error {
	err := s.grpc.Serve(l)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Shutdown reports the service as not serving, writes out what is queued
// for each member (the aggregator's last "done" among it), ends every
// session, and stops the server once the streams are gone or ctx ends,
// whichever is first. Pending and later Recv and Send calls return
// [transport.ErrClosed].
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutOnce.Do(func() {
		s.health.Shutdown()
		close(s.closed)
		close(s.draining)
	})
	stopped := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
		s.grpc.Stop()
		<-stopped
	}
	s.workers.Wait()
	return ctx.Err()
}

// Recv returns the next event from any member.
func (s *Server) Recv(ctx context.Context) (transport.Incoming, error) {
	select {
	case in := <-s.inbox:
		return in, nil
	case <-s.closed:
		return transport.Incoming{}, transport.ErrClosed
	case <-ctx.Done():
		return transport.Incoming{}, ctx.Err()
	}
}

// Send queues data for member to. It returns [transport.ErrNotConnected]
// (wrapped) when the member has no session, or its session ends first.
func (s *Server) Send(ctx context.Context, to string, data []byte) error {
	if len(data) > s.cfg.MaxMessageBytes {
		return fmt.Errorf("send to %q: %w (%d bytes, limit %d)", to, ErrTooLarge, len(data), s.cfg.MaxMessageBytes)
	}
	if len(data) == 0 {
		return fmt.Errorf("send to %q: empty message", to)
	}
	select {
	case <-s.closed:
		return transport.ErrClosed
	default:
	}
	s.mu.Lock()
	ss := s.sessions[to]
	s.mu.Unlock()
	if ss == nil {
		return fmt.Errorf("send to %q: %w", to, transport.ErrNotConnected)
	}
	select {
	case ss.out <- data:
		return nil
	case <-ss.ctx.Done():
		return fmt.Errorf("send to %q: %w", to, transport.ErrNotConnected)
	case <-s.closed:
		return transport.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Connect serves one member's stream.
func (s *Server) Connect(stream pb.Federation_ConnectServer) error {
	id, err := peerMember(stream.Context())
	if err != nil {
		s.refuse(RefusedNotMember, "", err)
		return status.Error(codes.Unauthenticated, err.Error())
	}
	if md, ok := metadata.FromIncomingContext(stream.Context()); ok {
		if claimed := md.Get(memberHeader); len(claimed) > 0 && (len(claimed) > 1 || claimed[0] != id) {
			err := fmt.Errorf("certificate names member %q, connection claims %q", id, claimed)
			s.refuse(RefusedMismatch, id, err)
			return status.Error(codes.PermissionDenied, err.Error())
		}
	}
	select {
	case <-s.draining:
		return status.Error(codes.Unavailable, errShutdown.Error())
	default:
	}
	if err := stream.SendHeader(metadata.Pairs(memberHeader, id)); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(stream.Context())
	ss := &session{id: id, out: make(chan []byte, 8), ctx: ctx, cancel: cancel}
	s.mu.Lock()
	old := s.sessions[id]
	s.sessions[id] = ss
	s.mu.Unlock()
	if old != nil {
		old.cancel(errReplaced)
	}
	s.cfg.Metrics.connected()
	s.log.Info("member connected", "hospital", id)
	s.deliver(ctx, transport.Incoming{Kind: transport.Joined, From: id})

	s.workers.Add(2)
	go func() { defer s.workers.Done(); cancel(s.read(ctx, stream, id)) }()
	go func() { defer s.workers.Done(); cancel(s.write(ctx, stream, ss)) }()
	<-ctx.Done()
	cause := context.Cause(ctx)

	s.mu.Lock()
	current := s.sessions[id] == ss
	if current {
		delete(s.sessions, id)
	}
	s.mu.Unlock()
	s.cfg.Metrics.disconnected()
	s.log.Info("member disconnected", "hospital", id, "reason", cause)
	if current {
		s.deliver(context.Background(), transport.Incoming{Kind: transport.Left, From: id})
	}
	switch {
	case errors.Is(cause, io.EOF):
		return nil
	case errors.Is(cause, ErrTooLarge):
		return status.Error(codes.ResourceExhausted, cause.Error())
	case errors.Is(cause, errFraming):
		return status.Error(codes.InvalidArgument, cause.Error())
	case errors.Is(cause, errReplaced):
		return status.Error(codes.Aborted, cause.Error())
	case errors.Is(cause, errShutdown):
		return status.Error(codes.Unavailable, cause.Error())
	case errors.Is(cause, errSlow):
		return status.Error(codes.DeadlineExceeded, cause.Error())
	}
	return status.FromContextError(cause).Err()
}

// read reassembles the member's envelopes and delivers them; it returns
// why the stream ended.
func (s *Server) read(ctx context.Context, stream pb.Federation_ConnectServer, id string) error {
	a := assembler{max: s.cfg.MaxMessageBytes}
	for {
		f, err := stream.Recv()
		if err != nil {
			return err
		}
		msg, err := a.add(f)
		if err != nil {
			reason := RefusedBadFraming
			if errors.Is(err, ErrTooLarge) {
				reason = RefusedTooLarge
			}
			s.refuse(reason, id, err)
			return err
		}
		if msg == nil {
			continue
		}
		s.cfg.Metrics.received(len(msg))
		if !s.deliver(ctx, transport.Incoming{Kind: transport.Message, From: id, Data: msg}) {
			return context.Cause(ctx)
		}
	}
}

// write sends the session's queued messages, each within the send
// timeout; on shutdown it flushes the queue and ends the session.
func (s *Server) write(ctx context.Context, stream pb.Federation_ConnectServer, ss *session) error {
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case msg := <-ss.out:
			if err := s.writeOne(stream, ss, msg); err != nil {
				return err
			}
		case <-s.draining:
			for {
				select {
				case msg := <-ss.out:
					if err := s.writeOne(stream, ss, msg); err != nil {
						return err
					}
				default:
					return errShutdown
				}
			}
		}
	}
}

func (s *Server) writeOne(stream pb.Federation_ConnectServer, ss *session, msg []byte) error {
	slow := time.AfterFunc(s.cfg.SendTimeout, func() {
		s.refuse(RefusedSlowReceive, ss.id, errSlow)
		ss.cancel(errSlow)
	})
	defer slow.Stop()
	for _, f := range split(msg, ChunkBytes) {
		if err := stream.Send(f); err != nil {
			return err
		}
	}
	s.cfg.Metrics.sent(len(msg))
	return nil
}

// deliver queues an event for Recv; it reports false if ctx ended or the
// server shut down first.
func (s *Server) deliver(ctx context.Context, in transport.Incoming) bool {
	select {
	case s.inbox <- in:
		return true
	case <-s.closed:
		return false
	case <-ctx.Done():
		return false
	}
}

// refuse logs and counts a refused connection or message. The error names
// the certificate or framing problem, never message contents.
func (s *Server) refuse(reason, member string, err error) {
	s.cfg.Metrics.Refused(reason)
	s.log.Warn("refused", "reason", reason, "hospital", member, "err", err)
}

// peerMember returns the member id of the stream's verified client
// certificate.
func peerMember(ctx context.Context) (string, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "", errors.New("no peer information")
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 {
		return "", errors.New("connection without a client certificate")
	}
	return MemberID(info.State.PeerCertificates[0])
}
