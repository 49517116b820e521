package client

import (
	"context"

	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/transport"
)

// The aggregator sends a request again to a member back on a new
// connection when the member's answer did not reach it: the announcement of
// a round attempt it has no upload for, a commitment it has no fingerprint
// or endorsement for, a decryption request it has no share for. The answer
// may have been lost, or may still be on its way. Either way the member
// sends the very messages it sent before, never a second answer: one
// upload per round attempt, one fingerprint and one endorsement per
// commitment, one decryption share per request. A second upload would not
// be the one the sum names, and a second share of the same ciphertexts
// would be a second decryption of them. A refusal or a decline is not
// kept: the request is considered afresh, as what it depended on may have
// changed.

// answerable are the kinds of the requests whose answers are kept.
var answerable = map[string]bool{
	protocol.KindStats: true, protocol.KindRound: true, protocol.KindEval: true,
	protocol.KindCommit: true, protocol.KindDecrypt: true,
}

// answer is what this member sent in answer to one request: the request's
// digest and the messages, as sent.
type answer struct {
	request [32]byte
	sent    [][]byte
}

// answerAgain sends again the answer kept for env, if env is the request
// it answered, and reports whether it did.
func (c *Client) answerAgain(ctx context.Context, conn transport.Conn, env *protocol.Envelope) (bool, error) {
	a, ok := c.answers[env.Kind]
	if !ok || a.request != env.Digest() {
		return false, nil
	}
	c.log.Info("answering a request again", "kind", env.Kind, "round", env.Round)
	for _, m := range a.sent {
		if err := conn.Send(ctx, m); err != nil {
			return true, err
		}
	}
	return true, nil
}

// keepAnswer keeps what was sent in answer to env, unless it was nothing,
// a refusal or a decline. A message whose sending failed is kept too: it
// may have left.
func (c *Client) keepAnswer(env *protocol.Envelope, sent [][]byte) {
	delete(c.answers, env.Kind)
	if len(sent) == 0 {
		return
	}
	for _, m := range sent {
		if e, err := protocol.ParseEnvelope(m); err != nil || e.Kind == protocol.KindRefuse || e.Kind == protocol.KindDecline {
			return
		}
	}
	if c.answers == nil {
		c.answers = map[string]answer{}
	}
	c.answers[env.Kind] = answer{request: env.Digest(), sent: sent}
}

// recorder is a connection that keeps what is sent on it.
type recorder struct {
	transport.Conn
	sent [][]byte
}

func (r *recorder) Send(ctx context.Context, data []byte) error {
	r.sent = append(r.sent, data)
	return r.Conn.Send(ctx, data)
}
