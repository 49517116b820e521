package protocol

import (
	"bytes"
	"math"
	"reflect"
	"testing"
)

// codecs lists every body type with a sample, its encoder and its parser.
var codecs = []struct {
	name   string
	sample func() any
	enc    func(any) []byte
	parse  func([]byte) (any, error)
}{
	{"bundle", func() any { return Bundle{[]byte("a"), []byte("bcd")} },
		func(v any) []byte { return v.(Bundle).Marshal() },
		func(b []byte) (any, error) { return ParseBundle(b) }},
	{"shamir", func() any { return Shamir{To: "h2", Sealed: []byte("age-encrypted")} },
		func(v any) []byte { return v.(Shamir).Marshal() },
		func(b []byte) (any, error) { return ParseShamir(b) }},
	{"ready", func() any { return Ready{PublicKeyDigest: bytes.Repeat([]byte{7}, 32), Epoch: 2, Endorsed: 40} },
		func(v any) []byte { return v.(Ready).Marshal() },
		func(b []byte) (any, error) { return ParseReady(b) }},
	{"round", func() any { return RoundStart{Model: []float64{1.5, -2, 0}} },
		func(v any) []byte { return v.(RoundStart).Marshal() },
		func(b []byte) (any, error) { return ParseRoundStart(b) }},
	{"round after a round", func() any {
		return RoundStart{Model: []float64{0.25}, Prev: PrevHead{Completed: true, Round: 3,
			Head: AuditHead{Entries: 5, Hash: [32]byte{8}, Sig: bytes.Repeat([]byte{2}, 64)}}}
	},
		func(v any) []byte { return v.(RoundStart).Marshal() },
		func(b []byte) (any, error) { return ParseRoundStart(b) }},
	{"claim", func() any {
		return Claim{Weight: 0.5, Encrypted: true, DP: DPClaim{Enabled: true, SampleRate: 0.1, NoiseMultiplier: 1.2,
			ClipNorm: 1, Steps: 30, Accountant: "rdp", PrivacyUnit: "patient", Epsilon: 0.4, Delta: 1e-5}, PayloadDigest: [32]byte{1, 2}, Dataset: [32]byte{3}, LedgerVersion: 9}
	},
		func(v any) []byte { return v.(Claim).Marshal() },
		func(b []byte) (any, error) { return ParseClaim(b) }},
	{"evaluation claim", func() any {
		return Claim{Weight: 1, Encrypted: true, DP: DPClaim{Enabled: true, SampleRate: 1, NoiseMultiplier: 5.5,
			ClipNorm: 1, Steps: 1, Accountant: "rdp", Epsilon: 0.9, Delta: 1e-5}, Transform: [32]byte{4}, LedgerVersion: 12,
			Site: []byte("sealed to the auditors")}
	},
		func(v any) []byte { return v.(Claim).Marshal() },
		func(b []byte) (any, error) { return ParseClaim(b) }},
	{"site counts", func() any { return SiteCounts{Counts: []int64{12, -3, 0, 40}} },
		func(v any) []byte { return v.(SiteCounts).Marshal() },
		func(b []byte) (any, error) { return ParseSiteCounts(b) }},
	{"upload", func() any { return Upload{Claim: []byte("signed claim"), Payload: []byte{1, 2, 3}} },
		func(v any) []byte { return v.(Upload).Marshal() },
		func(b []byte) (any, error) { return ParseUpload(b) }},
	{"plain update", func() any { return []float64{1.5, -2, 0, math.MaxFloat64, -math.SmallestNonzeroFloat64} },
		func(v any) []byte { return plainUpdate(v.([]float64)...) },
		func(b []byte) (any, error) { return decodePlainUpdate(b) }},
	{"decline", func() any { return Decline{Reason: "budget exhausted", Endorsed: 3} },
		func(v any) []byte { return v.(Decline).Marshal() },
		func(b []byte) (any, error) { return ParseDecline(b) }},
	{"decrypt", func() any {
		return DecryptRequest{Attempt: 2, Commit: sampleCommit(), Fingerprints: [][]byte{[]byte("fp1")},
			Endorsements: [][]byte{[]byte("e1"), []byte("e2")}, Sum: []byte("sum")}
	},
		func(v any) []byte { return v.(DecryptRequest).Marshal() },
		func(b []byte) (any, error) { return ParseDecryptRequest(b) }},
	{"welcome", func() any { return Welcome{Claim: []byte("signed claim"), Endorsement: []byte("signed endorsement")} },
		func(v any) []byte { return v.(Welcome).Marshal() },
		func(b []byte) (any, error) { return ParseWelcome(b) }},
	{"setup", func() any { return Setup{Epoch: 3} },
		func(v any) []byte { return v.(Setup).Marshal() },
		func(b []byte) (any, error) { return ParseSetup(b) }},
	{"stats result", func() any {
		return StatsResult{Totals: []float64{40, 3, -1.5}, NoiseStdDev: 12.5, Contributors: []string{"h1", "h2"}}
	},
		func(v any) []byte { return v.(StatsResult).Marshal() },
		func(b []byte) (any, error) { return ParseStatsResult(b) }},
	{"hello", func() any { return Hello{Epoch: 2} },
		func(v any) []byte { return v.(Hello).Marshal() },
		func(b []byte) (any, error) { return ParseHello(b) }},
	{"digest", func() any { return Digest32{1, 2, 3} },
		func(v any) []byte { return v.(Digest32).Marshal() },
		func(b []byte) (any, error) { return ParseDigest32(b) }},
	{"commit", func() any { return sampleCommit() },
		func(v any) []byte { return v.(Commit).Marshal() },
		func(b []byte) (any, error) { return ParseCommit(b) }},
	{"endorsement", func() any {
		return Endorsement{Epoch: 1, SumID: [32]byte{5}, Set: []string{"h1", "h2"}, First: 7, Count: 2}
	},
		func(v any) []byte { return v.(Endorsement).Marshal() },
		func(b []byte) (any, error) { return ParseEndorsement(b) }},
	{"fingerprint", func() any { return Fingerprint{SumID: [32]byte{6}, Value: []byte("residues")} },
		func(v any) []byte { return v.(Fingerprint).Marshal() },
		func(b []byte) (any, error) { return ParseFingerprint(b) }},
	{"share", func() any { return Share{Attempt: 1, Share: []byte("share")} },
		func(v any) []byte { return v.(Share).Marshal() },
		func(b []byte) (any, error) { return ParseShare(b) }},
	{"result", func() any {
		return Result{Completed: true, Included: []string{"h1", "h2"}, ModelDigest: []byte{1}, Reason: "",
			Head: AuditHead{Entries: 3, Hash: [32]byte{4, 5}, Sig: bytes.Repeat([]byte{6}, 64)}}
	},
		func(v any) []byte { return v.(Result).Marshal() },
		func(b []byte) (any, error) { return ParseResult(b) }},
	{"result without a head", func() any {
		return Result{Included: []string{}, ModelDigest: []byte{}, Reason: "2 uploads, fewer than min-contributors 3"}
	},
		func(v any) []byte { return v.(Result).Marshal() },
		func(b []byte) (any, error) { return ParseResult(b) }},
	{"done", func() any {
		return Done{Round: 5, Head: AuditHead{Entries: 9, Hash: [32]byte{1}, Sig: bytes.Repeat([]byte{2}, 64)}}
	},
		func(v any) []byte { return v.(Done).Marshal() },
		func(b []byte) (any, error) { return ParseDone(b) }},
}

func TestMessagesRoundTrip(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			v := c.sample()
			b := c.enc(v)
			got, err := c.parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, v) {
				t.Fatalf("round trip: got %+v want %+v", got, v)
			}
			// A claim with a site release, cut where the release begins, is
			// the same claim without one, as older claims are encoded; the
			// signature on the claim's envelope binds the whole.
			optional := -1
			if cl, ok := v.(Claim); ok && len(cl.Site) > 0 {
				cl.Site = nil
				optional = len(cl.Marshal())
			}
			for cut := 0; cut < len(b); cut++ {
				if _, err := c.parse(b[:cut]); err == nil && cut != optional {
					t.Fatalf("truncated to %d of %d bytes: accepted", cut, len(b))
				}
			}
			if _, err := c.parse(append(b, 0)); err == nil {
				t.Fatal("trailing byte accepted")
			}
		})
	}
}

func TestHostileLengthDoesNotAllocate(t *testing.T) {
	var w writer
	w.u64(1 << 60) // a count far beyond the bytes present
	if _, err := ParseRoundStart(w.b); err == nil {
		t.Fatal("absurd model length accepted")
	}
	if _, err := ParseBundle(w.b); err == nil {
		t.Fatal("absurd bundle length accepted")
	}
}

func TestAuditHeadIsAllOrNothing(t *testing.T) {
	sig := bytes.Repeat([]byte{1}, 64)
	cases := []struct {
		name string
		head AuditHead
	}{
		{"hash without entries", AuditHead{Hash: [32]byte{1}}},
		{"signature without entries", AuditHead{Sig: sig}},
		{"entries without a signature", AuditHead{Entries: 2, Hash: [32]byte{1}}},
		{"short signature", AuditHead{Entries: 2, Hash: [32]byte{1}, Sig: sig[:63]}},
		{"long signature", AuditHead{Entries: 2, Hash: [32]byte{1}, Sig: append(sig, 0)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ParseResult(Result{Head: c.head}.Marshal()); err == nil {
				t.Error("result accepted")
			}
			if _, err := ParseDone(Done{Head: c.head}.Marshal()); err == nil {
				t.Error("end of run accepted")
			}
			if _, err := ParseRoundStart(RoundStart{Prev: PrevHead{Head: c.head}}.Marshal()); err == nil {
				t.Error("round announcement accepted")
			}
		})
	}
	if _, err := ParseRoundStart(RoundStart{Prev: PrevHead{Completed: true, Round: 2}}.Marshal()); err == nil {
		t.Error("round announcement naming a previous round without its head accepted")
	}
}

func FuzzMessages(f *testing.F) {
	for i, c := range codecs {
		f.Add(uint8(i), c.enc(c.sample()))
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		c := codecs[int(which)%len(codecs)]
		v, err := c.parse(data)
		if err != nil {
			return
		}
		// The encoding is canonical: an accepted message re-encodes to the
		// very bytes it was parsed from.
		if again := c.enc(v); !bytes.Equal(again, data) {
			t.Fatalf("%s: accepted message re-encodes differently", c.name)
		}
	})
}

func sampleCommit() Commit {
	return Commit{Epoch: 1, Sum: SumRef{Kind: "upload", Length: 31, Addends: 2, Digest: [32]byte{3},
		Uploads: []Header{{Kind: "upload", From: "h1", Round: 4, Nonce: []byte("nonce"), Sig: bytes.Repeat([]byte{9}, 64)},
			{Kind: "upload", From: "h2", Round: 4, Nonce: []byte("nonce"), Sig: bytes.Repeat([]byte{8}, 64)}}},
		Set: []string{"h1", "h3"}, First: 12, Count: 1}
}

func TestUploadFrame(t *testing.T) {
	for _, claimLen := range []int{300, 5000} { // within the room kept, and beyond it
		f := NewUploadFrame(17, 1000)
		p := f.Payload()
		if len(p) != 1000 {
			t.Fatalf("payload room of %d bytes, want 1000", len(p))
		}
		for i := range p {
			p[i] = byte(i)
		}
		claim := bytes.Repeat([]byte{7}, claimLen)
		msg, body := f.Close(claim)
		if len(msg) != 17+len(body) || &msg[17] != &body[0] {
			t.Fatalf("claim of %d bytes: the body is not the message after its frame", claimLen)
		}
		u, err := ParseUpload(body)
		if err != nil {
			t.Fatalf("claim of %d bytes: %v", claimLen, err)
		}
		want := Upload{Claim: claim, Payload: p}
		if !bytes.Equal(u.Claim, want.Claim) || !bytes.Equal(u.Payload, want.Payload) {
			t.Fatalf("claim of %d bytes: parsed upload differs from what was framed", claimLen)
		}
		if !bytes.Equal(body, want.Marshal()) {
			t.Fatalf("claim of %d bytes: framed body differs from Upload.Marshal", claimLen)
		}
	}
}
