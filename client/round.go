package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/fedavg"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/he"
	"github.com/fedcrypt/fedcrypt/internal/transport"
	"github.com/fedcrypt/fedcrypt/model"
	"gonum.org/v1/gonum/mat"
)

// onRound trains on a round's global model and uploads the update, or
// declines.
func (c *Client) onRound(ctx context.Context, conn transport.Conn, env *federation.Envelope) error {
	rs, err := transport.ParseRoundStart(env.Body)
	if err != nil {
		return fmt.Errorf("round %d announcement: %w", env.Round, err)
	}
	if len(rs.Model) != c.local.NumParams() || !finite(rs.Model) {
		return fmt.Errorf("round %d announcement: a model of %d values, the federation's has %d", env.Round, len(rs.Model), c.local.NumParams())
	}
	c.round, c.nonce, c.global = env.Round, slices.Clone(env.Nonce), rs.Model
	if err := c.onAnnounce(env.Round, rs.Prev); err != nil {
		return err
	}
	if !c.me.Contributor {
		return nil
	}
	if c.cfg.Fault != nil && c.cfg.Fault(c.round, BeforeUpload) {
		return errDropped
	}
	if c.fed.HE.Enabled && c.pk == nil {
		return c.decline(ctx, conn, "setup not complete")
	}
	if err := c.ledger.reserve(c.round); err != nil {
		if errors.Is(err, dp.ErrBudgetExhausted) {
			c.log.Info("declining: privacy budget exhausted", "round", c.round, "epsilon", c.ledger.epsilon)
			return c.decline(ctx, conn, err.Error())
		}
		return err
	}
	upload, err := c.train()
	if err != nil {
		return fmt.Errorf("round %d: %w", c.round, err)
	}
	if err := c.send(ctx, conn, transport.KindUpload, upload); err != nil {
		return err
	}
	c.took = c.round
	c.log.Info("uploaded", "round", c.round, "epsilon", c.ledger.epsilon)
	if c.cfg.Fault != nil && c.cfg.Fault(c.round, AfterUpload) {
		return errDropped
	}
	return nil
}

func (c *Client) decline(ctx context.Context, conn transport.Conn, reason string) error {
	return c.send(ctx, conn, transport.KindDecline, transport.Decline{Reason: reason}.Marshal())
}

// train runs this round's local DP-SGD from the global model and builds the
// upload: the clipped, weighted update (encrypted unless the federation runs
// without encryption) and the signed claim.
func (c *Client) train() ([]byte, error) {
	m := c.local
	copy(m.Params(), c.global)
	steps := c.fed.Training.LocalSteps
	if c.fed.DP.Enabled {
		cfg := dp.SGDConfig{
			ClipNorm:        c.fed.DP.ClipNorm,
			NoiseMultiplier: c.ledger.sigma,
			SampleRate:      c.fed.DP.SampleRate,
			Steps:           steps,
			Optimizer:       c.fed.Training.Local,
			Noise:           c.fed.DP.Noise,
		}
		var err error
		if _, err = dp.Train(m, c.x, c.y, c.units, cfg, c.trainRand); err != nil {
			return nil, err
		}
	} else if err := c.trainNonPrivate(m, steps); err != nil {
		return nil, err
	}
	delta := slices.Clone(m.Params())
	for i, g := range c.global {
		delta[i] -= g
	}
	if !finite(delta) {
		return nil, errors.New("local training diverged (non-finite update)")
	}
	fedavg.ClipL2(delta, c.fed.HE.UpdateBound)
	w := c.fed.Weight(c.me.ID)
	f := w * c.fed.EncodeScale()
	for i := range delta {
		delta[i] *= f
	}
	var payload []byte
	var err error
	if c.fed.HE.Enabled {
		if payload, err = he.Encrypt(c.pk, delta, c.rand); err != nil {
			return nil, err
		}
	} else {
		payload = encodeFloats(delta)
	}
	claim := transport.Claim{Weight: w, Encrypted: c.fed.HE.Enabled, PayloadDigest: sha256.Sum256(payload), Dataset: c.dataset,
		DP: transport.DPClaim{Enabled: c.fed.DP.Enabled, Epsilon: c.ledger.epsilon, Delta: c.fed.DP.Delta}}
	if c.fed.DP.Enabled {
		claim.DP.SampleRate = c.fed.DP.SampleRate
		claim.DP.NoiseMultiplier = c.ledger.sigma
		claim.DP.ClipNorm = c.fed.DP.ClipNorm
		claim.DP.Steps = uint64(steps)
		claim.DP.Accountant = c.fed.DP.Accountant
		claim.DP.PrivacyUnit = c.fed.DP.PrivacyUnit
	}
	signed, err := c.envelope(transport.KindClaim, claim.Marshal()).MarshalBinary()
	if err != nil {
		return nil, err
	}
	return transport.Upload{Claim: signed, Payload: payload}.Marshal(), nil
}

// trainNonPrivate takes the same number of local steps without DP: uniform
// mini-batches of the expected DP batch size, for --no-dp comparison runs.
func (c *Client) trainNonPrivate(m *model.Model, steps int) error {
	rows, _ := c.x.Dims()
	batch := max(1, int(math.Round(c.fed.DP.SampleRate*float64(rows))))
	epochs := max(1, (steps*batch+rows-1)/rows)
	var seed [8]byte
	if _, err := io.ReadFull(c.trainRand, seed[:]); err != nil {
		return err
	}
	return model.Fit(m, c.x, c.y, model.FitConfig{Epochs: epochs, BatchSize: batch, Optimizer: c.fed.Training.Local,
		Seed: binary.LittleEndian.Uint64(seed[:])})
}

// encodeFloats is the plaintext payload of runs without encryption.
func encodeFloats(v []float64) []byte {
	b := make([]byte, 0, 8*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

// onDecrypt checks a decryption request and answers with this key holder's
// decryption share, or refuses.
func (c *Client) onDecrypt(ctx context.Context, conn transport.Conn, env *federation.Envelope) error {
	if !c.me.KeyHolder {
		return nil
	}
	if c.cfg.Fault != nil && c.cfg.Fault(env.Round, AtDecryption) {
		return errDropped
	}
	req, err := transport.ParseDecryptRequest(env.Body)
	if err != nil {
		return c.refuse(ctx, conn, env, fmt.Sprintf("malformed request: %v", err))
	}
	if reason := c.checkDecryptRequest(env, &req); reason != "" {
		c.log.Warn("refused to decrypt", "round", env.Round, "reason", reason)
		return c.refuse(ctx, conn, env, reason)
	}
	set := make([]int, len(req.Set))
	for i, id := range req.Set {
		set[i] = c.fed.Index(id)
	}
	share, err := c.holder.DecryptionShare(req.Sum, set, c.rand)
	if err != nil {
		c.log.Warn("refused to decrypt", "round", env.Round, "err", err)
		return c.refuse(ctx, conn, env, err.Error())
	}
	// The decryption count is part of the secret state: persist it before
	// the share leaves.
	if err := c.saveState(); err != nil {
		return err
	}
	body := transport.Share{Attempt: req.Attempt, Share: share}.Marshal()
	if err := c.sendBound(ctx, conn, env, transport.KindShare, body); err != nil {
		return err
	}
	c.took = max(c.took, env.Round)
	return nil
}

// checkDecryptRequest returns why the request must be refused, or "".
func (c *Client) checkDecryptRequest(env *federation.Envelope, req *transport.DecryptRequest) string {
	if !c.ready || c.holder == nil {
		return "setup not complete"
	}
	if env.Round != c.round || !bytes.Equal(env.Nonce, c.nonce) {
		return fmt.Sprintf("request for round %d with another nonce than announced", env.Round)
	}
	if len(req.Set) != c.fed.Threshold {
		return fmt.Sprintf("decryption set of %d key holders, the threshold is %d", len(req.Set), c.fed.Threshold)
	}
	seen := map[string]bool{}
	for _, id := range req.Set {
		m, ok := c.fed.Member(id)
		if !ok || !m.KeyHolder || seen[id] {
			return fmt.Sprintf("decryption set names %q, not a distinct key holder", id)
		}
		seen[id] = true
	}
	if !seen[c.me.ID] {
		return "decryption set does not include this key holder"
	}
	contributors := map[string]bool{}
	for i := range req.Uploads {
		h := &req.Uploads[i]
		if err := c.fed.VerifyHeader(h, c.hash); err != nil {
			return fmt.Sprintf("upload %d: %v", i+1, err)
		}
		m, ok := c.fed.Member(h.From)
		// A sum is of training updates or of evaluation counts, never both.
		kindOK := (h.Kind == transport.KindUpload || h.Kind == transport.KindEvalUp) && h.Kind == req.Uploads[0].Kind
		if !kindOK || !ok || !m.Contributor || h.Round != c.round || !bytes.Equal(h.Nonce, c.nonce) {
			return fmt.Sprintf("upload %d from %q is not a contributor's upload for this round", i+1, h.From)
		}
		if contributors[h.From] {
			return fmt.Sprintf("two uploads from %q", h.From)
		}
		contributors[h.From] = true
	}
	if len(contributors) < c.fed.MinContributors {
		return fmt.Sprintf("the sum names %d signed uploads, fewer than min-contributors %d", len(contributors), c.fed.MinContributors)
	}
	return ""
}

func (c *Client) refuse(ctx context.Context, conn transport.Conn, env *federation.Envelope, reason string) error {
	return c.sendBound(ctx, conn, env, transport.KindRefuse, transport.Decline{Reason: reason}.Marshal())
}

// sendBound answers a request, bound to the request's round and nonce.
func (c *Client) sendBound(ctx context.Context, conn transport.Conn, req *federation.Envelope, kind string, body []byte) error {
	e := &federation.Envelope{Kind: kind, From: c.me.ID, Config: c.hash, Round: req.Round, Nonce: req.Nonce, Body: body}
	e.Sign(c.cfg.Identity.SigningKey())
	raw, err := e.MarshalBinary()
	if err != nil {
		return err
	}
	return conn.Send(ctx, raw)
}

// onResult takes a round's outcome and keeps the audit head it carries.
func (c *Client) onResult(env *federation.Envelope) error {
	res, err := transport.ParseResult(env.Body)
	if err != nil {
		return fmt.Errorf("round %d result from aggregator %q: %w", env.Round, env.From, err)
	}
	if !res.Completed {
		c.log.Info("round abandoned", "round", env.Round, "reason", res.Reason)
	}
	return c.onHead(resultHead(c.hash, env.Round, res), res.Head.Sig)
}

// onDone keeps the audit head after the run's end entry.
func (c *Client) onDone(env *federation.Envelope) error {
	d, err := transport.ParseDone(env.Body)
	if err != nil {
		return fmt.Errorf("end of run from aggregator %q: %w", env.From, err)
	}
	h := audit.Head{Config: c.hash, Type: audit.TypeEnd, Round: d.Round, Entries: d.Head.Entries, Hash: d.Head.Hash}
	return c.onHead(h, d.Head.Sig)
}

// onEval scores the final model on the hospital's validation rows and
// uploads its confusion-matrix counts, released with Gaussian noise charged
// to its ledger and encrypted under the collective key; or declines.
func (c *Client) onEval(ctx context.Context, conn transport.Conn, env *federation.Envelope) error {
	rs, err := transport.ParseRoundStart(env.Body)
	if err != nil || len(rs.Model) != c.local.NumParams() || !finite(rs.Model) {
		return fmt.Errorf("evaluation request: malformed model")
	}
	c.round, c.nonce = env.Round, slices.Clone(env.Nonce)
	if err := c.onAnnounce(env.Round, rs.Prev); err != nil {
		return err
	}
	if !c.me.Contributor {
		return nil
	}
	if c.val == nil || c.ledger.evalSigma == 0 {
		return c.decline(ctx, conn, "no private evaluation configured here")
	}
	m := c.local
	copy(m.Params(), rs.Model)
	k := len(c.fed.Data.Schema.Classes)
	x, y := c.xval, c.val.Y
	if c.fed.DP.PrivacyUnit != "" {
		// Each patient contributes one row, so one patient changes one count.
		x, y = firstRowPerUnit(c.xval, c.val)
	}
	cm := model.Evaluate(m, x, y).Confusion
	counts := make([]int64, k*k)
	for t := range k {
		for p := range k {
			if t < len(cm) && p < len(cm[t]) {
				counts[t*k+p] = int64(cm[t][p])
			}
		}
	}
	noisy, err := c.ledger.release(counts)
	if errors.Is(err, dp.ErrBudgetExhausted) {
		return c.decline(ctx, conn, err.Error())
	}
	if err != nil {
		return err
	}
	scale := c.fed.EvalScale()
	values := make([]float64, len(noisy))
	for i, v := range noisy {
		values[i] = float64(max(-federation.MaxCount, min(federation.MaxCount, v))) * scale
	}
	var payload []byte
	if c.fed.HE.Enabled {
		if payload, err = he.Encrypt(c.pk, values, c.rand); err != nil {
			return err
		}
	} else {
		payload = encodeFloats(values)
	}
	d := c.fed.DP
	claim := transport.Claim{Weight: 1, Encrypted: c.fed.HE.Enabled, PayloadDigest: sha256.Sum256(payload), Dataset: c.dataset,
		DP: transport.DPClaim{Enabled: true, SampleRate: 1, NoiseMultiplier: c.ledger.evalSigma, ClipNorm: 1, Steps: 1,
			Accountant: d.Accountant, PrivacyUnit: d.PrivacyUnit, Epsilon: c.ledger.epsilon, Delta: d.Delta}}
	signed, err := c.envelope(transport.KindClaim, claim.Marshal()).MarshalBinary()
	if err != nil {
		return err
	}
	if err := c.send(ctx, conn, transport.KindEvalUp, transport.Upload{Claim: signed, Payload: payload}.Marshal()); err != nil {
		return err
	}
	c.took = c.round
	return nil
}

// firstRowPerUnit keeps one row per privacy unit.
func firstRowPerUnit(x *mat.Dense, d *data.Dataset) (*mat.Dense, []float64) {
	seen := map[int]bool{}
	var rows []int
	for i, u := range d.Units {
		if !seen[u] {
			seen[u] = true
			rows = append(rows, i)
		}
	}
	_, cols := x.Dims()
	out := mat.NewDense(len(rows), cols, nil)
	y := make([]float64, len(rows))
	for j, i := range rows {
		out.SetRow(j, x.RawRowView(i))
		y[j] = d.Y[i]
	}
	return out, y
}
