package aggregator_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedcrypt/fedcrypt/aggregator"
	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/client"
	"github.com/fedcrypt/fedcrypt/he"
	"github.com/fedcrypt/fedcrypt/protocol"
	"github.com/fedcrypt/fedcrypt/transport"
	"github.com/fedcrypt/fedcrypt/vault"
)

// The tests in this file play a malicious aggregator against real client
// nodes: the adversary holds the aggregator's signing key, sees every
// message the members send (the uploads with their ciphertexts, the
// public-key shares, fingerprints, endorsements, shares, refusals), rewrites
// what the aggregator sends and injects requests of its own, each properly
// signed. What it must not obtain is a decryption share of anything but the
// round's one genuine sum.

// adversary records what the members send and what they answer to its own
// requests.
type adversary struct {
	f     *fixture
	mu    sync.Mutex
	steps sync.Mutex // held while the queued steps run
	// uploads holds, for the round under attack (every round if round is
	// 0), each contributor's upload envelope and payload, in arrival order.
	uploads  []capturedUpload
	pkShares [][]byte
	// endorsements and fingerprints by sum ID, then sender: the raw signed
	// envelopes.
	endorsements map[[32]byte]map[string][]byte
	fingerprints map[[32]byte]map[string][]byte
	// refusals holds every refusal reason, by key holder; answers those to
	// the adversary's own decryption requests (attempt advAttempt), and
	// shares the key holders that gave it a share.
	refusals map[string][]string
	answers  map[string][]string
	shares   map[string]bool
	round    uint64
	// then runs, outside the lock, after every message observed, until it
	// reports true.
	then []func() bool
	// hold, while set, is closed once the adversary's own decryption
	// request has been answered by its whole set (waiting for answers
	// from set): until then the aggregator's round results and
	// announcements are held back, as a malicious aggregator would.
	hold    chan struct{}
	waiting []string
	asked   bool
}

type capturedUpload struct {
	header  protocol.Header
	payload []byte
}

// advAttempt marks the adversary's own decryption requests.
const advAttempt = 99

func newAdversary(f *fixture) *adversary {
	a := &adversary{f: f, endorsements: map[[32]byte]map[string][]byte{}, fingerprints: map[[32]byte]map[string][]byte{},
		refusals: map[string][]string{}, answers: map[string][]string{}, shares: map[string]bool{}, round: 1}
	for _, m := range f.fed.Members {
		prev := f.tamper[m.ID]
		f.tamper[m.ID] = func(f *fixture, raw []byte) [][]byte {
			a.observe(raw)
			if prev != nil {
				return prev(f, raw)
			}
			return [][]byte{raw}
		}
	}
	return a
}

func (a *adversary) observe(raw []byte) {
	a.record(raw)
	// One member's message at a time runs the steps, so a step runs once.
	a.steps.Lock()
	defer a.steps.Unlock()
	a.mu.Lock()
	steps := slices.Clone(a.then)
	a.mu.Unlock()
	for i, step := range steps {
		if step != nil && step() {
			a.mu.Lock()
			a.then[i] = nil
			a.mu.Unlock()
		}
	}
}

// after queues a step of the attack, run after each message the members
// send until it reports it is done.
func (a *adversary) after(step func() bool) {
	a.mu.Lock()
	a.then = append(a.then, step)
	a.mu.Unlock()
}

func (a *adversary) record(raw []byte) {
	e, err := protocol.ParseEnvelope(raw)
	if err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch e.Kind {
	case protocol.KindPKShare:
		a.pkShares = append(a.pkShares, e.Body)
	case protocol.KindUpload:
		if a.round == 0 || e.Round == a.round && (len(a.uploads) == 0 || slices.Equal(a.uploads[0].header.Nonce, e.Nonce)) {
			u, _ := protocol.ParseUpload(e.Body)
			a.uploads = append(a.uploads, capturedUpload{e.Header(), u.Payload})
		}
	case protocol.KindEndorse:
		en, _ := protocol.ParseEndorsement(e.Body)
		put(a.endorsements, en.SumID, e.From, raw)
	case protocol.KindFingerprint:
		fp, _ := protocol.ParseFingerprint(e.Body)
		put(a.fingerprints, fp.SumID, e.From, raw)
	case protocol.KindRefuse:
		d, _ := protocol.ParseDecline(e.Body)
		a.refusals[e.From] = append(a.refusals[e.From], d.Reason)
		if a.asked {
			a.answers[e.From] = append(a.answers[e.From], d.Reason)
		}
		a.answeredBy(e.From)
	case protocol.KindShare:
		if s, _ := protocol.ParseShare(e.Body); s.Attempt == advAttempt {
			a.shares[e.From] = true
			a.answeredBy(e.From)
		}
	}
}

// answeredBy notes an answer from id to the adversary's decryption request,
// releasing the aggregator once the whole set answered.
func (a *adversary) answeredBy(id string) {
	if !a.asked {
		return
	}
	a.waiting = slices.DeleteFunc(a.waiting, func(w string) bool { return w == id })
	if len(a.waiting) == 0 && a.hold != nil {
		close(a.hold)
		a.hold = nil
	}
}

func put(m map[[32]byte]map[string][]byte, id [32]byte, from string, raw []byte) {
	if m[id] == nil {
		m[id] = map[string][]byte{}
	}
	m[id][from] = raw
}

// signAsAggregator signs a message from the aggregator bound to round and
// nonce.
func (a *adversary) signAsAggregator(kind string, round uint64, nonce, body []byte) []byte {
	e := &protocol.Envelope{Kind: kind, From: a.f.fed.Aggregator.ID, Config: a.f.fed.Hash(), Round: round, Nonce: nonce, Body: body}
	e.Sign(a.f.aggKey.SigningKey())
	raw, _ := e.MarshalBinary()
	return raw
}

// send delivers raw to member to over the hub, as the aggregator.
func (a *adversary) send(to string, raw []byte) {
	a.f.hub.Send(context.Background(), to, raw)
}

// rewriteCommits makes the aggregator's first commitment of the round under
// attack name, for the members for which choose returns one, another sum:
// the adversary commits to what it wants decrypted.
func (a *adversary) rewriteCommits(choose func(to string, cm *protocol.Commit, round uint64, nonce []byte) *protocol.Commit) {
	var done sync.Map
	a.hold = make(chan struct{})
	hold := a.hold
	a.f.hubTamper = func(f *fixture, to string, raw []byte) []byte {
		e, err := protocol.ParseEnvelope(raw)
		if err != nil {
			return raw
		}
		switch e.Kind {
		case protocol.KindResult, protocol.KindRound, protocol.KindDone:
			if _, started := done.Load(to); started {
				select { // the attack runs before the round moves on
				case <-hold:
				case <-time.After(20 * time.Second):
				}
			}
			return raw
		}
		if e.Kind != protocol.KindCommit || e.Round != a.round {
			return raw
		}
		if _, again := done.LoadOrStore(to, true); again {
			return raw
		}
		cm, _ := protocol.ParseCommit(e.Body)
		evil := choose(to, &cm, e.Round, e.Nonce)
		if evil == nil {
			return raw
		}
		return a.signAsAggregator(protocol.KindCommit, e.Round, e.Nonce, evil.Marshal())
	}
}

// decrypt sends the adversary's own decryption request for sum under
// commitment cm to every member of cm's set, with whatever fingerprints and
// endorsements of cm's sum it has collected.
func (a *adversary) decrypt(cm *protocol.Commit, round uint64, nonce []byte, sum []byte) {
	id := cm.Sum.ID(a.f.fed.Hash(), round, nonce)
	a.mu.Lock()
	var fps, ens [][]byte
	for _, h := range cm.Sum.Uploads {
		if fp := a.fingerprints[id][h.From]; fp != nil {
			fps = append(fps, fp)
		}
	}
	for _, raw := range a.endorsements[id] {
		ens = append(ens, raw)
	}
	a.mu.Unlock()
	req := protocol.DecryptRequest{Attempt: advAttempt, Commit: *cm, Fingerprints: fps, Endorsements: ens, Sum: sum}
	raw := a.signAsAggregator(protocol.KindDecrypt, round, nonce, req.Marshal())
	a.mu.Lock()
	a.asked, a.waiting = true, slices.Clone(cm.Set)
	a.mu.Unlock()
	for _, id := range cm.Set {
		a.send(id, raw)
	}
}

// params is the federation's CKKS preset.
func (a *adversary) params(t *testing.T) *he.Params {
	p, err := a.f.fed.HE.Params()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// sumOf adds the captured uploads of the given contributors.
func (a *adversary) sumOf(t *testing.T, ids ...string) []byte {
	s := he.NewSum(a.params(t))
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, u := range a.uploads {
		if slices.Contains(ids, u.header.From) {
			if err := s.Add(u.payload); err != nil {
				t.Fatal(err)
			}
		}
	}
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// refSum returns a reference to sum naming the given uploads.
func refSum(p *he.Params, sum []byte, uploads []protocol.Header) protocol.SumRef {
	n, addends, _ := p.UpdateLen(sum)
	return protocol.SumRef{Kind: protocol.KindUpload, Length: uint64(n), Addends: uint64(addends), Digest: sha256.Sum256(sum), Uploads: uploads}
}

// craftConstantC1 returns an encrypted vector shaped like template (same
// length) with addends addends, c0 = 0 and c1 the constant polynomial v in
// every ciphertext: decryption shares of it are v·s plus flooding, from
// which the collective secret s follows by rounding (issue of the key
// holders checking only the uploads' headers). The layout is package he's
// wire format: a 28-byte header, then c0 and c1 of each ciphertext packed
// on bitlen(qᵢ) bits per coefficient, prime after prime, in NTT form, where
// a constant polynomial is the same value at every point.
func craftConstantC1(p *he.Params, template []byte, addends int, v uint64) []byte {
	const headerLen = 28
	out := slices.Clone(template)
	binary.LittleEndian.PutUint32(out[8+12:], uint32(addends))
	bits := p.Literal().LogQ
	n := p.Slots()
	polyLen := 0
	for _, b := range bits {
		polyLen += n * b / 8
	}
	for off := headerLen; off < len(out); off += 2 * polyLen {
		clear(out[off : off+polyLen]) // c0 = 0
		c1 := out[off+polyLen : off+2*polyLen]
		clear(c1)
		pos := 0
		for _, b := range bits {
			for range n {
				for k := 0; k < b; k++ {
					if v>>k&1 == 1 {
						c1[(pos+k)/8] |= 1 << ((pos + k) % 8)
					}
				}
				pos += b
			}
		}
	}
	return out
}

// headersOf returns the captured uploads' headers of the given contributors,
// in the order of the genuine commitment.
func headersOf(cm *protocol.Commit, ids ...string) []protocol.Header {
	var hs []protocol.Header
	for _, h := range cm.Sum.Uploads {
		if slices.Contains(ids, h.From) {
			hs = append(hs, h)
		}
	}
	return hs
}

func contributorsOf(cm *protocol.Commit) []string {
	var ids []string
	for _, h := range cm.Sum.Uploads {
		ids = append(ids, h.From)
	}
	return ids
}

// wantRefusedAll fails if any key holder gave a share to the adversary's own
// decryption requests, and checks each of want refused naming why.
func (a *adversary) wantRefusedAll(t *testing.T, holders []string, reason string) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.shares) > 0 {
		t.Fatalf("key holders %v gave the adversary decryption shares", keys(a.shares))
	}
	for _, id := range holders {
		if got := a.answers[id]; !slices.ContainsFunc(got, func(r string) bool { return strings.Contains(r, reason) }) {
			t.Errorf("key holder %s: refusals %q, want one saying %q", id, got, reason)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// roundCompleted reports whether round r completed in one of its attempts.
func roundCompleted(reps []*aggregator.Round, r uint64) bool {
	return slices.ContainsFunc(reps, func(rep *aggregator.Round) bool { return rep.Number == r && rep.Completed })
}

// answered counts the key holders that endorsed sum id or refused anything.
func (a *adversary) answered(id [32]byte) (endorsed, refused int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.endorsements[id]), len(a.refusals)
}

// ready reports whether the adversary holds every named contributor's
// fingerprint of sum id and at least n endorsements of it.
func (a *adversary) ready(cm *protocol.Commit, id [32]byte, n int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, h := range cm.Sum.Uploads {
		if a.fingerprints[id][h.From] == nil {
			return false
		}
	}
	return len(a.endorsements[id]) >= n
}

// keyRecovery commits to the sum forge returns (given the genuine sum of
// all uploads and the genuine commitment) in round 1, collects what the
// members sign for it, then asks the decryption set to decrypt it.
func keyRecovery(t *testing.T, f *fixture, forge func(a *adversary, genuine []byte, cm *protocol.Commit) []byte) (*adversary, *protocol.Commit) {
	// The attacked attempt is abandoned and retried: a round of budget
	// is kept for it.
	f.fed.Training.SpareRounds = 1
	a := newAdversary(f)
	var (
		once  sync.Once
		evil  *protocol.Commit
		sum   []byte
		round uint64
		nonce []byte
	)
	a.rewriteCommits(func(to string, cm *protocol.Commit, r uint64, n []byte) *protocol.Commit {
		once.Do(func() {
			p := a.params(t)
			sum = forge(a, a.sumOf(t, contributorsOf(cm)...), cm)
			c := *cm
			c.Sum = refSum(p, sum, cm.Sum.Uploads)
			evil, round, nonce = &c, r, slices.Clone(n)
			id := c.Sum.ID(f.fed.Hash(), r, n)
			a.after(func() bool {
				if !a.ready(evil, id, f.fed.EndorsementQuorum()) {
					return false
				}
				a.decrypt(evil, round, nonce, sum)
				return true
			})
		})
		return evil
	})
	return a, evil
}

func TestMaliciousAggregatorCannotRecoverTheKey(t *testing.T) {
	const reason = "not the sum of the uploads it names"
	overTransports(t, func(t *testing.T, grpc bool) {
		t.Run("crafted c1", func(t *testing.T) {
			f := newFixture(t, 3, 2, 2)
			f.grpc = grpc
			a, _ := keyRecovery(t, f, func(a *adversary, genuine []byte, cm *protocol.Commit) []byte {
				return craftConstantC1(a.params(t), genuine, len(cm.Sum.Uploads), 1<<50)
			})
			reps := f.run()
			wantAttackRefused(t, a, reps, reason)
		})
		t.Run("one upload and encryptions of zero", func(t *testing.T) {
			f := newFixture(t, 3, 2, 2)
			f.grpc = grpc
			a, _ := keyRecovery(t, f, func(a *adversary, genuine []byte, cm *protocol.Commit) []byte {
				p := a.params(t)
				pk := a.publicKey(t)
				s := he.NewSum(p)
				if err := s.Add(a.uploadOf(cm.Sum.Uploads[0].From)); err != nil {
					t.Fatal(err)
				}
				for range len(cm.Sum.Uploads) - 1 {
					zero, err := he.Encrypt(pk, make([]float64, int(cm.Sum.Length)), seeded(99))
					if err != nil {
						t.Fatal(err)
					}
					if err := s.Add(zero); err != nil {
						t.Fatal(err)
					}
				}
				b, err := s.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				return b
			})
			reps := f.run()
			wantAttackRefused(t, a, reps, reason)
		})
	})
}

// wantAttackRefused checks that every key holder asked refused the
// adversary's request for the reason given, that none gave it a share, and
// that the federation still completed every round.
func wantAttackRefused(t *testing.T, a *adversary, reps []*aggregator.Round, reason string) {
	t.Helper()
	a.mu.Lock()
	asked := len(a.answers) + len(a.shares)
	holders := keys(matching(a.answers, reason))
	a.mu.Unlock()
	if asked == 0 {
		t.Fatal("the adversary's decryption request was never answered: the attack did not run")
	}
	if len(holders) < a.f.fed.Threshold {
		t.Fatalf("%d key holders refused saying %q, want the whole decryption set (%d); answers: %v", len(holders), reason, a.f.fed.Threshold, a.answers)
	}
	a.wantRefusedAll(t, holders, reason)
	if n := completedRounds(reps); n != a.f.fed.Training.Rounds {
		for _, r := range reps {
			t.Logf("round %d attempt %d: completed %v, %s (refused %v)", r.Number, r.Attempt, r.Completed, r.Reason, r.Refused)
		}
		t.Fatalf("%d of %d rounds completed after the attack", n, a.f.fed.Training.Rounds)
	}
}

func (a *adversary) refusalsFor(reason string) map[string]bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return matching(a.refusals, reason)
}

// matching lists the key holders with a reason containing reason.
func matching(reasons map[string][]string, reason string) map[string]bool {
	out := map[string]bool{}
	for id, rs := range reasons {
		if slices.ContainsFunc(rs, func(r string) bool { return strings.Contains(r, reason) }) {
			out[id] = true
		}
	}
	return out
}

// uploadOf returns the captured payload of contributor id.
func (a *adversary) uploadOf(id string) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, u := range a.uploads {
		if u.header.From == id {
			return u.payload
		}
	}
	return nil
}

// publicKey recomputes the collective public key from the shares the key
// holders sent through the aggregator, as every member does.
func (a *adversary) publicKey(t *testing.T) *he.PublicKey {
	a.mu.Lock()
	shares := slices.Clone(a.pkShares)
	a.mu.Unlock()
	pk, err := he.CombinePublicKey(a.params(t), protocol.CRS(a.f.fed.Hash(), 1), shares)
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

func TestMaliciousAggregatorCannotDifference(t *testing.T) {
	// Four key holders, T = 2: q = 3, and two disjoint decryption sets of T
	// exist. v's update would be Dec(Σ S) − Dec(Σ S∖{v}).
	const v = "h1"
	overTransports(t, func(t *testing.T, grpc bool) {
		t.Run("a second sum through one decryption set", func(t *testing.T) {
			f := newFixture(t, 4, 2, 2)
			f.grpc = grpc
			f.fed.Training.SpareRounds = 1
			a := newAdversary(f)
			var once sync.Once
			var sent bool
			a.f.hubTamper = func(f *fixture, to string, raw []byte) []byte {
				e, err := protocol.ParseEnvelope(raw)
				if err != nil || e.Kind != protocol.KindDecrypt || e.Round != 1 {
					return raw
				}
				// The genuine sum S is endorsed: now S∖{v}, same round.
				once.Do(func() {
					req, _ := protocol.ParseDecryptRequest(e.Body)
					cm := req.Commit
					rest := slices.DeleteFunc(contributorsOf(&cm), func(id string) bool { return id == v })
					sum := a.sumOf(t, rest...)
					evil := protocol.Commit{Epoch: cm.Epoch, Sum: refSum(a.params(t), sum, headersOf(&cm, rest...)),
						Set: cm.Set, First: cm.First + cm.Count, Count: cm.Count}
					raw := a.signAsAggregator(protocol.KindCommit, e.Round, e.Nonce, evil.Marshal())
					for _, id := range f.fed.KeyHolders() {
						a.send(id, raw)
					}
					id := evil.Sum.ID(f.fed.Hash(), e.Round, e.Nonce)
					round, nonce := e.Round, slices.Clone(e.Nonce)
					a.after(func() bool {
						endorsed, _ := a.answered(id)
						if len(a.refusalsFor("already endorsed another sum"))+endorsed < len(f.fed.KeyHolders()) || !a.ready(&evil, id, 0) {
							return false
						}
						a.decrypt(&evil, round, nonce, sum)
						sent = true
						return true
					})
				})
				return raw
			}
			reps := f.run()
			if !sent {
				t.Fatal("the adversary never asked for S∖{v}: the attack did not run")
			}
			if got := a.refusalsFor("already endorsed another sum"); len(got) != 4 {
				t.Fatalf("%d key holders refused to endorse S∖{v} as a second sum of the round, want all 4: %v", len(got), a.refusals)
			}
			a.wantRefusedAll(t, nil, "")
			if !roundCompleted(reps, 1) {
				t.Fatal("round 1 did not complete")
			}
		})
		t.Run("two sums through disjoint decryption sets", func(t *testing.T) {
			f := newFixture(t, 4, 2, 2)
			f.grpc = grpc
			f.fed.Training.SpareRounds = 1
			a := newAdversary(f)
			var once sync.Once
			var whole, part protocol.Commit
			var sums [2][]byte
			var attacked [2][32]byte
			a.rewriteCommits(func(to string, cm *protocol.Commit, round uint64, nonce []byte) *protocol.Commit {
				once.Do(func() {
					p := a.params(t)
					all := contributorsOf(cm)
					rest := slices.DeleteFunc(slices.Clone(all), func(id string) bool { return id == v })
					sums = [2][]byte{a.sumOf(t, all...), a.sumOf(t, rest...)}
					whole = protocol.Commit{Epoch: cm.Epoch, Sum: refSum(p, sums[0], cm.Sum.Uploads), Set: []string{"h1", "h2"}, First: cm.First, Count: cm.Count}
					part = protocol.Commit{Epoch: cm.Epoch, Sum: refSum(p, sums[1], headersOf(cm, rest...)), Set: []string{"h3", "h4"}, First: cm.First + cm.Count, Count: cm.Count}
					ids := [2][32]byte{whole.Sum.ID(f.fed.Hash(), round, nonce), part.Sum.ID(f.fed.Hash(), round, nonce)}
					attacked = ids
					a.after(func() bool {
						// Each sum is endorsed by its own half; then each
						// half is also asked for the other sum, and both sums
						// are sent to decryption with what they gathered.
						e0, _ := a.answered(ids[0])
						e1, _ := a.answered(ids[1])
						if e0 < 2 || e1 < 2 {
							return false
						}
						for i, cm := range []*protocol.Commit{&whole, &part} {
							other := [2]*protocol.Commit{&part, &whole}[i]
							raw := a.signAsAggregator(protocol.KindCommit, round, nonce, other.Marshal())
							for _, id := range cm.Set {
								a.send(id, raw)
							}
						}
						a.after(func() bool {
							if !a.ready(&whole, ids[0], 0) || !a.ready(&part, ids[1], 0) || len(a.refusalsFor("already endorsed another sum")) < 4 {
								return false
							}
							a.decrypt(&part, round, nonce, sums[1])
							return true
						})
						return true
					})
				})
				if slices.Contains([]string{"h1", "h2"}, to) {
					return &whole
				}
				return &part
			})
			reps := f.run()
			a.mu.Lock()
			for i, ids := range attacked {
				if by := a.endorsements[ids]; len(by) >= f.fed.EndorsementQuorum() {
					a.mu.Unlock()
					t.Fatalf("sum %d of the attack gathered endorsements from %v, a quorum", i, keys(by))
				}
			}
			a.mu.Unlock()
			wantAttackRefused(t, a, reps, "fewer than the quorum 3")
		})
	})
}

func TestInflatedAddendsDoNotStallTheRound(t *testing.T) {
	// h1 uploads a well-signed ciphertext whose header claims the preset's
	// largest number of addends, sent before the others: accepted, it would
	// leave no room in the sum for any honest upload.
	f := newFixture(t, 3, 2, 2)
	p, err := f.fed.HE.Params()
	if err != nil {
		t.Fatal(err)
	}
	most := p.Literal().MaxAddends
	f.tamper["h1"] = func(f *fixture, raw []byte) [][]byte {
		if kindOf(raw) == protocol.KindUpload {
			raw = f.rebuildUpload(raw, func(b []byte) []byte {
				b = slices.Clone(b)
				binary.LittleEndian.PutUint32(b[8+12:], uint32(most))
				return b
			})
		}
		return [][]byte{raw}
	}
	reps := f.run()
	wantRefused(t, reps, 1, "h1", "an upload is one")
	for _, r := range reps {
		if !r.Completed || len(r.Included) != 2 {
			t.Fatalf("round %d: completed %v with %v, want the two honest uploads", r.Number, r.Completed, r.Included)
		}
	}
}

func TestRogueKeyShareIsCaught(t *testing.T) {
	// h3 colludes with the aggregator: together they would like the
	// collective key to be one whose secret they know, which takes h3
	// choosing its share after seeing the others'.
	const rogue = "h3"
	t.Run("a share other than the one committed to", func(t *testing.T) {
		f := newFixture(t, 3, 2, 2)
		f.tamper[rogue] = func(f *fixture, raw []byte) [][]byte {
			if kindOf(raw) == protocol.KindPKShare {
				other, err := he.NewKeyHolder(mustParams(t, f), f.fed.Hash(), f.fed.Index(rogue), seeded(77))
				if err != nil {
					t.Fatal(err)
				}
				raw = f.signAs(rogue, protocol.KindPKShare, other.PublicKeyShare())
			}
			return [][]byte{raw}
		}
		_, err, errs := f.runErrs()
		if err == nil {
			t.Fatal("setup completed with a share that does not match its commitment")
		}
		for _, id := range []string{"h1", "h2"} {
			if errs[id] == nil || !strings.Contains(errs[id].Error(), `key holder "h3" revealed a public-key share other than the one it committed to`) {
				t.Errorf("%s: %v, want an error naming the rogue key holder", id, errs[id])
			}
		}
	})
	t.Run("commitments shown differently to different key holders", func(t *testing.T) {
		f := newFixture(t, 3, 2, 2)
		a := newAdversary(f)
		revealed := map[string]bool{}
		for _, id := range []string{"h1", "h2"} {
			prev := f.tamper[id]
			f.tamper[id] = func(f *fixture, raw []byte) [][]byte {
				if kindOf(raw) == protocol.KindPKShare {
					a.mu.Lock()
					revealed[id] = true
					a.mu.Unlock()
				}
				return prev(f, raw)
			}
		}
		f.hubTamper = func(f *fixture, to string, raw []byte) []byte {
			e, err := protocol.ParseEnvelope(raw)
			if err != nil || e.Kind != protocol.KindPKCommits || to != "h1" {
				return raw
			}
			// h1 is shown another commitment of h3, signed by h3.
			b, _ := protocol.ParseBundle(e.Body)
			for i, raw := range b {
				if c, _ := protocol.ParseEnvelope(raw); c.From == rogue {
					b[i] = f.signAs(rogue, protocol.KindPKCommit, protocol.Digest32{0xee}.Marshal())
				}
			}
			return a.signAsAggregator(e.Kind, e.Round, e.Nonce, b.Marshal())
		}
		_, err, errs := f.runErrs()
		if err == nil {
			t.Fatal("setup completed though key holders saw different commitments")
		}
		if len(revealed) > 0 {
			t.Fatalf("honest key holders %v revealed their public-key shares", keys(revealed))
		}
		for _, id := range []string{"h1", "h2"} {
			if errs[id] == nil || !strings.Contains(errs[id].Error(), "showed key holders different commitments") {
				t.Errorf("%s: %v, want an error saying the aggregator showed different commitments", id, errs[id])
			}
		}
	})
}

// signAs builds and signs a setup message (round 0) from member id.
func (f *fixture) signAs(id, kind string, body []byte) []byte {
	e := &protocol.Envelope{Kind: kind, From: id, Config: f.fed.Hash(), Body: body}
	e.Sign(f.keys[id].SigningKey())
	raw, _ := e.MarshalBinary()
	return raw
}

func mustParams(t *testing.T, f *fixture) *he.Params {
	p, err := f.fed.CKKS()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRestoredStateIsCaught restores a hospital's state directory (its
// sealed ledger and key-holder state, real files) from a copy taken before
// it spent anything, and restarts it mid-run.
func TestRestoredStateIsCaught(t *testing.T) {
	for _, tc := range []struct {
		name    string
		restore []string // state files copied back from before the first round
		wantErr string
	}{
		{"ledger", []string{"h1.ledger.age", "h1.setup.age"}, "ledger rolled back"},
		{"key-holder state", []string{"h1.setup.age"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Four key holders, T = 2: the endorsement quorum is 3, so the
			// federation goes on without h1.
			f := newFixture(t, 4, 2, 2)
			f.fed.Training.Rounds = 3
			dir, snap := t.TempDir(), t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			f.net = transport.NewNetwork(256)
			defer f.net.Close()
			f.hub = f.net.Hub()
			newClient := func(id, state string, seed uint64) *client.Client {
				c, err := client.New(client.Config{Federation: f.fed, Member: id, Identity: f.keys[id], Data: f.parts[id],
					StateDir: state, Rand: seeded(seed), TrainRand: seeded(seed + 10)})
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			var once, rewrite sync.Once
			dialedB := make(chan struct{})
			var refusedB []string
			var mu sync.Mutex
			var helloB sync.Once
			var restartedB atomic.Bool
			endorsedA := make(chan struct{})
			var endorseOnce sync.Once
			f.tamper["h1"] = func(f *fixture, raw []byte) [][]byte {
				if !restartedB.Load() && kindOf(raw) == protocol.KindEndorse {
					// What the aggregator holds of h1 before the restart:
					// sent here, so that it is in the aggregator's inbox
					// before h1 is stopped.
					f.mu.Lock()
					c := f.conns["h1"]
					f.mu.Unlock()
					c.Conn.Send(context.Background(), raw)
					endorseOnce.Do(func() { close(endorsedA) })
					return nil
				}
				if restartedB.Load() && kindOf(raw) == protocol.KindHello {
					// Sent here, so that it is in the aggregator's inbox
					// before the aggregator goes on.
					f.mu.Lock()
					c := f.conns["h1"]
					f.mu.Unlock()
					c.Conn.Send(context.Background(), raw)
					helloB.Do(func() { close(dialedB) })
					return nil
				}
				if e, err := protocol.ParseEnvelope(raw); err == nil && e.Kind == protocol.KindRefuse {
					d, _ := protocol.ParseDecline(e.Body)
					mu.Lock()
					refusedB = append(refusedB, d.Reason)
					mu.Unlock()
				}
				return [][]byte{raw}
			}
			f.hubTamper = func(f *fixture, to string, raw []byte) []byte {
				e, err := protocol.ParseEnvelope(raw)
				if err != nil {
					return raw
				}
				switch {
				case to == "h1" && e.Kind == protocol.KindRound && e.Round == 1:
					once.Do(func() { copyFiles(t, dir, snap) }) // set up, nothing spent yet
				case to == "h1" && e.Kind == protocol.KindRound && e.Round == 2:
					// The restarted h1 connects during round 2, whose
					// announcement it does not get (the aggregator may not
					// have seen h1 leave yet), and takes part from round 3.
					return []byte("not a message")
				case e.Kind == protocol.KindCommit && e.Round == 2:
					<-dialedB // its hello is read, and answered, in round 2
				case to == "h1" && e.Kind == protocol.KindCommit && e.Round == 3:
					// The aggregator offers the restarted key holder a range
					// it endorsed before its state was restored.
					rewrite.Do(func() {
						cm, _ := protocol.ParseCommit(e.Body)
						cm.First = 0
						e.Body = cm.Marshal()
						e.Sign(f.aggKey.SigningKey())
						raw, _ = e.MarshalBinary()
					})
				}
				return raw
			}
			var wg sync.WaitGroup
			for i, id := range []string{"h2", "h3", "h4"} {
				c := newClient(id, "", uint64(i)+2)
				wg.Go(func() { c.Run(ctx, func(ctx context.Context) (transport.Conn, error) { return f.dial(ctx, id) }) })
			}
			ctxA, stopA := context.WithCancel(ctx)
			a := newClient("h1", dir, 1)
			stoppedA := make(chan struct{})
			wg.Go(func() {
				defer close(stoppedA)
				a.Run(ctxA, func(ctx context.Context) (transport.Conn, error) { return f.dial(ctx, "h1") })
			})
			var errB error
			restarted := make(chan struct{})
			onRound := func(r *aggregator.Round) {
				if r.Number != 1 || !r.Completed {
					return
				}
				// h1's endorsement of round 1 has reached the aggregator
				// (a quorum without it may have completed the round): it is
				// what h1's restored state is brought forward to.
				select {
				case <-endorsedA:
				case <-time.After(30 * time.Second):
					t.Error("h1 never endorsed round 1's sum")
				}
				stopA()
				go func() {
					defer close(restarted)
					<-stoppedA // the aggregator goes on while h1 restarts
					for _, name := range tc.restore {
						restore(t, snap, dir, name)
					}
					b := newClient("h1", dir, 5)
					restartedB.Store(true)
					errB = b.Run(ctx, func(ctx context.Context) (transport.Conn, error) { return f.dial(ctx, "h1") })
				}()
			}
			reps, err := runAggregator(ctx, f, onRound)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-restarted:
			case <-time.After(20 * time.Second):
				for _, r := range reps {
					t.Logf("round %d attempt %d: completed %v %v %s refused %v", r.Number, r.Attempt, r.Completed, r.Included, r.Reason, r.Refused)
				}
				t.Fatal("the restarted h1 never saw the end of the run")
			}
			cancel()
			wg.Wait()
			if tc.wantErr != "" {
				if errB == nil || !strings.Contains(errB.Error(), tc.wantErr) {
					t.Fatalf("restarted h1: %v, want %q", errB, tc.wantErr)
				}
			} else if errB != nil {
				t.Fatalf("restarted h1: %v", errB)
			}
			if n := completedRounds(reps); n != 3 {
				for _, r := range reps {
					t.Logf("round %d attempt %d: completed %v %v %s refused %v declined %v", r.Number, r.Attempt, r.Completed, r.Included, r.Reason, r.Refused, r.Declined)
				}
				t.Fatalf("%d of 3 rounds completed", n)
			}
			if tc.wantErr == "" {
				// Brought forward to the ranges it endorsed before the
				// restart, the key holder refuses the old range.
				mu.Lock()
				defer mu.Unlock()
				if !slices.ContainsFunc(refusedB, func(r string) bool {
					return strings.Contains(r, "decryption range starts at 0, this key holder endorsed up to")
				}) {
					t.Fatalf("the restarted key holder did not refuse a range it had endorsed: refusals %q", refusedB)
				}
			}
		})
	}
}

// runAggregator runs the fixture's aggregator over its network.
func runAggregator(ctx context.Context, f *fixture, onRound func(*aggregator.Round)) ([]*aggregator.Round, error) {
	var reps []*aggregator.Round
	_, err := aggregator.Run(ctx, aggregator.Config{Federation: f.fed, Identity: f.aggKey, OutDir: f.t.TempDir(),
		InitialModel: make([]float64, 5), Rand: seeded(1), Timeout: 5 * time.Second,
		OnRound: func(r *aggregator.Round) { reps = append(reps, r); onRound(r) },
	}, &tamperHub{f.hub, f})
	return reps, err
}

func copyFiles(t *testing.T, from, to string) {
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// restore puts back the copy of name taken earlier, or removes name if
// there was none then.
func restore(t *testing.T, snap, dir, name string) {
	b, err := os.ReadFile(filepath.Join(snap, name))
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRekeyWhenTheBudgetIsSpent gives the collective key a budget of one
// round's worst case (one ciphertext decrypted up to MaxDecryptions times):
// before every later round the federation moves to a new key epoch, and
// the log says so and verifies.
func TestRekeyWhenTheBudgetIsSpent(t *testing.T) {
	for _, tc := range []struct {
		name           string
		budget         uint64
		everyRounds    int
		reason         string
		wantRekeys     int
		wantLastEpochs uint64
	}{
		// The statistics phase's decryption takes one of the first key's
		// three: it too is rekeyed before round 1.
		{"budget spent", 3, 0, "decryption budget", 3, 4},
		{"every round", 0, 1, "every 1 rounds", 2, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 3, 2, 2)
			f.fed.Training.Rounds = 3
			f.fed.Training.SpareRounds = 0
			f.fed.HE.DecryptionBudget = tc.budget
			f.fed.HE.KeyEpochRounds = tc.everyRounds
			out := t.TempDir()
			reps, err := f.runIn(out)
			if err != nil {
				t.Fatal(err)
			}
			if n := completedRounds(reps); n != 3 {
				t.Fatalf("%d of 3 rounds completed", n)
			}
			run, err := audit.VerifyFile(filepath.Join(out, "audit.jsonl"), f.fed, audit.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(run.Epochs) != tc.wantRekeys+1 || run.Epochs[len(run.Epochs)-1].Epoch != tc.wantLastEpochs {
				t.Fatalf("key epochs %+v, want %d", run.Epochs, tc.wantRekeys+1)
			}
			keys := map[string]bool{}
			for i, e := range run.Epochs {
				keys[e.CollectiveKey] = true
				if i > 0 && !strings.Contains(e.Reason, tc.reason) {
					t.Errorf("epoch %d: reason %q, want %q", e.Epoch, e.Reason, tc.reason)
				}
				if e.Used == 0 || e.Used > e.Budget {
					t.Errorf("epoch %d: %d of %d decryptions used", e.Epoch, e.Used, e.Budget)
				}
			}
			if len(keys) != len(run.Epochs) {
				t.Fatalf("%d distinct collective keys over %d epochs", len(keys), len(run.Epochs))
			}
		})
	}
}

// overTransports runs test over the in-memory network and over gRPC with
// mutual TLS on loopback.
func overTransports(t *testing.T, test func(t *testing.T, grpc bool)) {
	t.Run("inmem", func(t *testing.T) { test(t, false) })
	t.Run("grpc", func(t *testing.T) { test(t, true) })
}

// TestColludingContributorIsBoundedToOneEpoch plays the coalition SECURITY.md
// assumes away: a contributor colluding with the aggregator uploads a
// malformed ciphertext inside a genuine sum, and the decryption shares then
// reveal the collective key. The test hands the adversary that key's full
// power for epoch 1 — the sealed states of T key holders of epoch 1 — and
// checks what it opens: epoch 1's uploads, and nothing of epoch 2's, made
// under a fresh key after the federation re-keyed.
func TestColludingContributorIsBoundedToOneEpoch(t *testing.T) {
	f := newFixture(t, 3, 2, 2)
	f.fed.HE.KeyEpochRounds = 1
	colluders := []string{"h1", "h2"} // T of them: the whole key
	f.state = map[string]string{}
	snaps := map[string]string{}
	for _, id := range colluders {
		f.state[id], snaps[id] = t.TempDir(), t.TempDir()
	}
	a := newAdversary(f)
	a.round = 0 // capture every round's uploads
	var once sync.Once
	f.hubTamper = func(f *fixture, to string, raw []byte) []byte {
		if e, err := protocol.ParseEnvelope(raw); err == nil && e.Kind == protocol.KindRound && e.Round == 1 {
			once.Do(func() { // epoch 1's key is set up
				for _, id := range colluders {
					copyFiles(t, f.state[id], snaps[id])
				}
			})
		}
		return raw
	}
	reps := f.run()
	if completedRounds(reps) != 2 {
		t.Fatalf("%d of 2 rounds completed", completedRounds(reps))
	}
	p, err := f.fed.CKKS()
	if err != nil {
		t.Fatal(err)
	}
	var states [][]byte // the key material, with no count of its use
	var set []int
	for _, id := range colluders {
		b, err := vault.Unseal(filepath.Join(snaps[id], id+".setup.age"), "fedcrypt/setup-state", f.keys[id].SigningPublicKey(), f.keys[id])
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Epoch  uint64 `json:"epoch"`
			Holder []byte `json:"holder"`
		}
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		if st.Epoch != 1 {
			t.Fatalf("%s's copied state is of epoch %d", id, st.Epoch)
		}
		states, set = append(states, st.Holder), append(set, f.fed.Index(id))
	}
	opened := map[uint64]int{}
	a.mu.Lock()
	uploads := slices.Clone(a.uploads)
	a.mu.Unlock()
	for _, u := range uploads {
		var shares [][]byte
		for _, st := range states {
			h, err := he.UnmarshalKeyHolder(p, st)
			if err != nil {
				t.Fatal(err)
			}
			s, err := h.DecryptionShare(u.payload, set, seeded(5))
			if err != nil {
				t.Fatal(err)
			}
			shares = append(shares, s)
		}
		sum := he.NewSum(p)
		if err := sum.Add(u.payload); err != nil {
			t.Fatal(err)
		}
		vals, err := sum.Decrypt(shares)
		if err != nil {
			t.Fatal(err)
		}
		var ss float64
		for _, v := range vals {
			ss += v * v
		}
		// An update is clipped to L2 ≤ the bound; noise is far above it.
		if math.Sqrt(ss) <= f.fed.HE.UpdateBound*1.01 {
			opened[u.header.Round]++
		}
	}
	if opened[1] == 0 {
		t.Fatal("epoch 1's key did not open epoch 1's uploads: the test proves nothing")
	}
	if opened[2] != 0 {
		t.Fatalf("epoch 1's key opened %d of epoch 2's uploads", opened[2])
	}
}
