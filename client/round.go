package client

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"slices"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/compress"
	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/dp"
	"github.com/fedcrypt/fedcrypt/fedavg"
	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/he"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/transport"
	"github.com/fedcrypt/fedcrypt/vault"
	"gonum.org/v1/gonum/mat"
)

// onRound trains on a round's global model and uploads the update, or
// declines.
func (c *Client) onRound(ctx context.Context, conn transport.Conn, env *protocol.Envelope) error {
	rs, err := protocol.ParseRoundStart(env.Body)
	if err != nil {
		return fmt.Errorf("round %d announcement: %w", env.Round, err)
	}
	if len(rs.Model) != c.nparams || !finite(rs.Model) {
		return fmt.Errorf("round %d announcement: a model of %d values, the federation's has %d", env.Round, len(rs.Model), c.nparams)
	}
	c.round, c.nonce, c.global = env.Round, slices.Clone(env.Nonce), rs.Model
	c.upload = nil
	if err := c.onAnnounce(env.Round, rs.Prev); err != nil {
		return err
	}
	if !c.me.Contributor {
		return nil
	}
	if c.fed.HE.Enabled && c.pk == nil {
		return c.decline(ctx, conn, "setup not complete")
	}
	if c.learner == nil {
		return c.decline(ctx, conn, "no federation statistics received: the rows have no transform")
	}
	if err := c.ledger.reserve(c.round); err != nil {
		if errors.Is(err, dp.ErrBudgetExhausted) {
			c.log.Info("declining: privacy budget exhausted", "round", c.round, "epsilon", c.ledger.epsilon)
			return c.decline(ctx, conn, err.Error())
		}
		return err
	}
	update, claim, err := c.train()
	if err != nil {
		return fmt.Errorf("round %d: %w", c.round, err)
	}
	if err := c.sendUpload(ctx, conn, protocol.KindUpload, update, claim); err != nil {
		return fmt.Errorf("round %d: %w", c.round, err)
	}
	c.took = c.round
	c.log.Info("uploaded", "round", c.round, "epsilon", c.ledger.epsilon)
	return nil
}

func (c *Client) decline(ctx context.Context, conn transport.Conn, reason string) error {
	return c.send(ctx, conn, protocol.KindDecline, protocol.Decline{Reason: reason}.Marshal())
}

// train runs this round's local DP-SGD from the global model and returns
// the clipped, weighted update and the claim for it, whose payload digest
// sendUpload fills in.
func (c *Client) train() (update []float64, claim protocol.Claim, err error) {
	l := c.learner
	if err := l.SetParams(c.global); err != nil {
		return nil, claim, err
	}
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
		if _, err = l.Train(cfg, c.trainRand); err != nil {
			return nil, claim, err
		}
	} else if err := c.trainNonPrivate(l, steps); err != nil {
		return nil, claim, err
	}
	delta := slices.Clone(l.Params())
	for i, g := range c.global {
		delta[i] -= g
	}
	if !finite(delta) {
		return nil, claim, errors.New("local training diverged (non-finite update)")
	}
	fedavg.ClipL2(delta, c.fed.HE.UpdateBound)
	// Compression is post-processing of the DP-SGD output, with the map
	// every contributor of the round shares, so the ciphertexts still add.
	plan, err := c.fed.UploadPlan(c.round)
	if err != nil {
		return nil, claim, fmt.Errorf("round %d: compression map: %w", c.round, err)
	}
	if plan != nil {
		y := make([]float64, plan.Size())
		if plan.Config().Feedback {
			if c.feedback == nil {
				c.feedback = compress.NewFeedback(plan.Dim())
			}
			c.feedback.Compress(plan, y, delta, c.fed.HE.UpdateBound)
		} else {
			plan.Compress(y, delta) // orthonormal rows: no longer than delta
		}
		delta = y
	}
	w := c.fed.Weight(c.me.ID)
	f := w * c.fed.EncodeScale()
	for i := range delta {
		delta[i] *= f
	}
	claim = protocol.Claim{Weight: w, Encrypted: c.fed.HE.Enabled, Dataset: c.dataset, Transform: c.inputs.Digest(),
		LedgerVersion: c.ledger.version(), DP: protocol.DPClaim{Enabled: c.fed.DP.Enabled, Epsilon: c.ledger.epsilon, Delta: c.fed.DP.Delta}}
	if c.fed.DP.Enabled {
		claim.DP.SampleRate = c.fed.DP.SampleRate
		claim.DP.NoiseMultiplier = c.ledger.sigma
		claim.DP.ClipNorm = c.fed.DP.ClipNorm
		claim.DP.Steps = uint64(steps)
		claim.DP.Accountant = c.fed.DP.Accountant
		claim.DP.PrivacyUnit = c.fed.DP.PrivacyUnit
	}
	return delta, claim, nil
}

// sendUpload sends an upload and keeps its payload and the digest of its
// signed header for the round: the sum's commitment names the upload by
// that digest, and the contributor fingerprints its own payload.
//
// With a state directory the upload is also sealed there before it leaves:
// a process that crashes after uploading and restarts still fingerprints
// its upload when the aggregator commits to the sum, so the round need not
// be abandoned (and its privacy spent again by every hospital).
func (c *Client) sendUpload(ctx context.Context, conn transport.Conn, kind string, values []float64, claim protocol.Claim) error {
	env := &protocol.Envelope{Kind: kind, From: c.me.ID, Config: c.hash, Round: c.round, Nonce: c.nonce}
	size := protocol.PlainUpdateSize(len(values))
	if c.fed.HE.Enabled {
		size = c.params.UpdateSize(len(values))
	}
	frame := protocol.NewUploadFrame(env.FrameLen(), size)
	payload := frame.Payload()
	if c.fed.HE.Enabled {
		if err := he.EncryptTo(payload, c.pk, values, c.rand); err != nil {
			return err
		}
	} else {
		protocol.EncodePlainUpdate(payload, values)
	}
	claim.PayloadDigest = sha256.Sum256(payload)
	signed, err := c.envelope(protocol.KindClaim, claim.Marshal()).MarshalBinary()
	if err != nil {
		return err
	}
	raw, body := frame.Close(signed)
	env.Body = body
	hd, err := env.SignFramed(c.cfg.Identity.SigningKey(), raw)
	if err != nil {
		return err
	}
	c.upload, c.uploadDigest = payload, hd.Digest()
	if c.fed.HE.Enabled && c.cfg.StateDir != "" {
		b, err := json.Marshal(lastUpload{Round: c.round, Nonce: c.nonce, Payload: payload, Digest: c.uploadDigest})
		if err != nil {
			return err
		}
		if err := c.seal("upload", sealKindUpload, b); err != nil {
			return fmt.Errorf("round %d: keep the upload: %w", c.round, err)
		}
	}
	return conn.Send(ctx, raw)
}

// sealKindUpload names the sealed copy of the member's last upload.
const sealKindUpload = "fedcrypt/last-upload"

// lastUpload is the member's last upload, kept to fingerprint it after a
// restart: the round and nonce it was for, its payload (a ciphertext) and
// the digest of its signed header.
type lastUpload struct {
	Round   uint64   `json:"round"`
	Nonce   []byte   `json:"nonce"`
	Payload []byte   `json:"payload"`
	Digest  [32]byte `json:"digest"`
}

// restoreUpload takes back the last upload sealed before a restart, with
// the round and nonce it was for.
func (c *Client) restoreUpload() error {
	path := c.statePath("upload")
	if path == "" || c.params == nil {
		return nil
	}
	id := c.cfg.Identity
	b, err := vault.Unseal(path, sealKindUpload, id.SigningPublicKey(), id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var u lastUpload
	if err := json.Unmarshal(b, &u); err != nil {
		return fmt.Errorf("last upload %s: %w", path, err)
	}
	c.round, c.nonce, c.upload, c.uploadDigest = u.Round, u.Nonce, u.Payload, u.Digest
	return nil
}

// trainNonPrivate takes the same number of local steps without DP: uniform
// mini-batches of the expected DP batch size, for --no-dp comparison runs.
func (c *Client) trainNonPrivate(l dp.Learner, steps int) error {
	rows := l.Rows()
	batch := max(1, int(math.Round(c.fed.DP.SampleRate*float64(rows))))
	epochs := max(1, (steps*batch+rows-1)/rows)
	var seed [8]byte
	if _, err := io.ReadFull(c.trainRand, seed[:]); err != nil {
		return err
	}
	return l.Fit(model.FitConfig{Epochs: epochs, BatchSize: batch, Optimizer: c.fed.Training.Local,
		Seed: binary.LittleEndian.Uint64(seed[:])})
}

func (c *Client) refuse(ctx context.Context, conn transport.Conn, env *protocol.Envelope, reason string) error {
	d := protocol.Decline{Reason: reason, Endorsed: c.sums.EndorsedEnd}
	return c.sendBound(ctx, conn, env, protocol.KindRefuse, d.Marshal())
}

// sendBound answers a request, bound to the request's round and nonce.
func (c *Client) sendBound(ctx context.Context, conn transport.Conn, req *protocol.Envelope, kind string, body []byte) error {
	e := &protocol.Envelope{Kind: kind, From: c.me.ID, Config: c.hash, Round: req.Round, Nonce: req.Nonce, Body: body}
	e.Sign(c.cfg.Identity.SigningKey())
	raw, err := e.MarshalBinary()
	if err != nil {
		return err
	}
	return conn.Send(ctx, raw)
}

// onResult takes a round's outcome and keeps the audit head it carries.
func (c *Client) onResult(env *protocol.Envelope) error {
	res, err := protocol.ParseResult(env.Body)
	if err != nil {
		return fmt.Errorf("round %d result from aggregator %q: %w", env.Round, env.From, err)
	}
	if !res.Completed {
		c.log.Info("round abandoned", "round", env.Round, "reason", res.Reason)
	}
	return c.onHead(resultHead(c.hash, env.Round, res), res.Head.Sig)
}

// onDone keeps the audit head after the run's end entry.
func (c *Client) onDone(env *protocol.Envelope) error {
	d, err := protocol.ParseDone(env.Body)
	if err != nil {
		return fmt.Errorf("end of run from aggregator %q: %w", env.From, err)
	}
	h := audit.Head{Config: c.hash, Type: audit.TypeEnd, Round: d.Round, Entries: d.Head.Entries, Hash: d.Head.Hash}
	return c.onHead(h, d.Head.Sig)
}

// onEval scores the final model on the hospital's validation rows and
// uploads its confusion-matrix counts, released with Gaussian noise charged
// to its ledger and encrypted under the collective key; or declines.
func (c *Client) onEval(ctx context.Context, conn transport.Conn, env *protocol.Envelope) error {
	rs, err := protocol.ParseRoundStart(env.Body)
	if err != nil || len(rs.Model) != c.nparams || !finite(rs.Model) {
		return fmt.Errorf("evaluation request: malformed model")
	}
	c.round, c.nonce, c.upload = env.Round, slices.Clone(env.Nonce), nil
	if err := c.onAnnounce(env.Round, rs.Prev); err != nil {
		return err
	}
	if !c.me.Contributor {
		return nil
	}
	if c.val == nil || c.ledger.evalSigma == 0 {
		return c.decline(ctx, conn, "no private evaluation configured here")
	}
	if c.xval == nil {
		return c.decline(ctx, conn, "no federation statistics received: the rows have no transform")
	}
	if err := c.learner.SetParams(rs.Model); err != nil {
		return err
	}
	x, y := c.xval, c.val.Y
	if c.fed.DP.PrivacyUnit != "" {
		// Each patient contributes one row, so one patient changes one
		// row's counts.
		x, y = firstRowPerUnit(c.xval, c.val)
	}
	layout := c.fed.EvalScores()
	rows, _ := x.Dims()
	p := mat.NewDense(rows, c.fed.Outputs(), nil)
	if err := c.learner.Predict(p, x); err != nil {
		return fmt.Errorf("evaluation: %w", err)
	}
	prob := make([][]float64, rows)
	for i := range prob {
		prob[i] = p.RawRowView(i)
	}
	counts, err := layout.Count(prob, y)
	if err != nil {
		return fmt.Errorf("evaluation: %w", err)
	}
	noisy, err := c.ledger.release(counts, layout.Sensitivity())
	if errors.Is(err, dp.ErrBudgetExhausted) {
		return c.decline(ctx, conn, err.Error())
	}
	if err != nil {
		return err
	}
	site, err := c.sealSite(noisy)
	if err != nil {
		return fmt.Errorf("evaluation: %w", err)
	}
	v := make([]float64, len(noisy))
	for i, n := range noisy {
		v[i] = float64(n)
	}
	if m, err := layout.Metrics(v); err == nil {
		c.evaluation = &m
	}
	scale := c.fed.EvalScale()
	values := make([]float64, len(noisy))
	for i, v := range noisy {
		values[i] = float64(max(-federation.MaxCount, min(federation.MaxCount, v))) * scale
	}
	d := c.fed.DP
	claim := protocol.Claim{Weight: 1, Encrypted: c.fed.HE.Enabled, Dataset: c.dataset, Transform: c.inputs.Digest(),
		LedgerVersion: c.ledger.version(), DP: protocol.DPClaim{Enabled: true, SampleRate: 1, NoiseMultiplier: c.ledger.evalSigma, ClipNorm: 1, Steps: 1,
			Accountant: d.Accountant, PrivacyUnit: d.PrivacyUnit, Epsilon: c.ledger.epsilon, Delta: d.Delta},
		Site: site}
	if err := c.sendUpload(ctx, conn, protocol.KindEvalUp, values, claim); err != nil {
		return err
	}
	c.took = c.round
	return nil
}

// sealSite seals the hospital's own noisy evaluation counts to the
// federation's auditors, signed: its per-site scores, which only they read.
// The counts are the release the hospital also adds to the federation's
// sum, so the site's scores cost no further ε. Without auditors there is
// nobody to seal them to, and a federation without score histograms
// (Bins 0, configs written before them) has no site releases either.
func (c *Client) sealSite(noisy []int64) ([]byte, error) {
	auditors, err := c.fed.AuditorRecipients()
	if err != nil || len(auditors) == 0 || c.fed.Evaluation.Bins == 0 {
		return nil, err
	}
	return vault.SealBytes(protocol.SealKindSite, protocol.SiteCounts{Counts: noisy}.Marshal(), c.cfg.Identity.SigningKey(), auditors...)
}

// firstRowPerUnit keeps one row per privacy unit of x, the input of d's
// rows.
func firstRowPerUnit(x dp.Input, d *data.Dataset) (dp.Input, []float64) {
	seen := map[int]bool{}
	var rows []int
	for i, u := range d.Units {
		if !seen[u] {
			seen[u] = true
			rows = append(rows, i)
		}
	}
	y := make([]float64, len(rows))
	for j, i := range rows {
		y[j] = d.Y[i]
	}
	if s, ok := x.(*model.CSR); ok {
		return s.SelectRows(rows), y
	}
	dx := x.(*mat.Dense)
	_, cols := dx.Dims()
	out := mat.NewDense(len(rows), cols, nil)
	for j, i := range rows {
		out.SetRow(j, dx.RawRowView(i))
	}
	return out, y
}
