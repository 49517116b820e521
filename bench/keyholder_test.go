package bench

import (
	"fmt"
	"math"
	"testing"

	"github.com/fedcrypt/fedcrypt/he"
	"github.com/fedcrypt/fedcrypt/protocol"
)

// TestKeyHolderDownloadMatchesRealMessages checks the estimate plan gives
// against the wire size of real messages (real keys, signatures,
// ciphertexts and fingerprints), and that those pass a key holder's checks.
func TestKeyHolderDownloadMatchesRealMessages(t *testing.T) {
	p, err := he.Preset(he.PresetPrecise)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name                           string
		params, hospitals, holders, th int
	}{
		{"logreg/hospitals=10", 31, 10, 10, 3},
		{"mlp:1000/hospitals=40", scaleParams32k, 40, 16, 3},
		{"logreg/hospitals=5/T=2", 31, 5, 3, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := newSumCheckRound(tc.params, tc.hospitals, tc.holders, tc.th)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.check(&VerifyParts{}); err != nil {
				t.Fatalf("genuine round refused: %v", err)
			}
			got := KeyHolderDownload(p, tc.params, tc.hospitals, tc.holders, tc.th)
			if got.CommitBytes != len(r.commit) || got.RequestBytes != len(r.request) {
				t.Errorf("estimate: commitment %d, request %d bytes; real messages %d, %d", got.CommitBytes, got.RequestBytes, len(r.commit), len(r.request))
			}
			if q := r.fed.EndorsementQuorum(); got.Quorum != q {
				t.Errorf("quorum %d, federation's EndorsementQuorum %d", got.Quorum, q)
			}
			env, err := protocol.ParseEnvelope(r.request)
			if err != nil {
				t.Fatal(err)
			}
			req, err := protocol.ParseDecryptRequest(env.Body)
			if err != nil {
				t.Fatal(err)
			}
			if len(req.Endorsements) != got.Quorum || len(req.Fingerprints) != tc.hospitals || len(req.Sum) != got.SumBytes {
				t.Errorf("request carries %d endorsements, %d fingerprints, %d-byte sum; want %d, %d, %d",
					len(req.Endorsements), len(req.Fingerprints), len(req.Sum), got.Quorum, tc.hospitals, got.SumBytes)
			}
			if got.DownloadBytes != got.CommitBytes+got.RequestBytes || !got.WithinBound {
				t.Errorf("%+v", got)
			}
		})
	}
}

// TestKeyHolderCheckRefusesWrongSum: the timed checks do refuse a sum that
// is not the committed one, so what is timed is the real work.
func TestKeyHolderCheckRefusesWrongSum(t *testing.T) {
	r, err := newSumCheckRound(31, 4, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	r.request[len(r.request)-1] ^= 1 // the sum's last byte: the aggregator's signature no longer verifies
	if err := r.check(&VerifyParts{}); err == nil {
		t.Error("a request whose sum changed passed the checks")
	}
}

// TestKeyHolderDownloadBound: at 1,000 hospitals the download is the sum
// plus small items of a few hundred bytes per contributor.
func TestKeyHolderDownloadBound(t *testing.T) {
	p, err := he.Preset(he.PresetPrecise)
	if err != nil {
		t.Fatal(err)
	}
	for _, params := range []int{31, scaleParams32k, WireParams} {
		b := KeyHolderDownload(p, params, 1000, 16, 3)
		if !b.WithinBound || b.SmallBytesPerHospital > 3*SmallItemLimit/4 || b.Quorum != 10 {
			t.Errorf("%d params: %+v", params, b)
		}
	}
}

// BenchmarkKeyHolderCheck is a key holder's checks of one round's sum
// (32,001 parameters, K = 16, T = 3). Profile with
//
//	go test ./bench -run '^$' -bench 'KeyHolderCheck/hospitals=1000' -benchtime 5x -cpuprofile /tmp/kh.cpu
func BenchmarkKeyHolderCheck(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("hospitals=%d/params=%d", n, scaleParams32k), func(b *testing.B) {
			r, err := newSumCheckRound(scaleParams32k, n, min(n, 16), 3)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := r.check(&VerifyParts{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestVerifyCostsFit: from cases whose signed items cost a + b·members,
// the fit recovers b, and the estimate gives back each case's time.
func TestVerifyCostsFit(t *testing.T) {
	p, err := he.Preset(he.PresetPrecise)
	if err != nil {
		t.Fatal(err)
	}
	const a, b, sumMs = 50e-6, 300e-9, 0.2e-3 // s per item, s per item per member, s per ciphertext
	var cases []KeyHolderCheck
	for _, params := range []int{scaleParams32k, WireParams} {
		for _, n := range []int{10, 100, 1000} {
			k := KeyHolderCheck{KeyHolderBytes: KeyHolderDownload(p, params, n, min(n, 16), 3)}
			item := a + b*float64(n)
			k.Verify = VerifyParts{Headers: float64(2*n) * item, Fingerprints: float64(n) * item, Endorsements: float64(k.Quorum) * item,
				Envelopes: float64(k.Ciphertexts) * sumMs / 2, Sum: float64(k.Ciphertexts) * sumMs / 2}
			k.VerifySeconds = k.Verify.Headers + k.Verify.Fingerprints + k.Verify.Endorsements + k.Verify.Envelopes + k.Verify.Sum
			cases = append(cases, k)
		}
	}
	v := verifyCosts(cases, "test")
	if math.Abs(v.PerMemberNs-b*1e9) > 1e-6 || math.Abs(v.HeaderUs-a*1e6) > 1e-6 || math.Abs(v.SumMsPerCt-sumMs*1e3) > 1e-9 {
		t.Errorf("fit %+v", v)
	}
	for _, k := range cases {
		if got := v.Seconds(k.KeyHolderBytes); math.Abs(got-k.VerifySeconds) > 1e-9*k.VerifySeconds {
			t.Errorf("%d hospitals, %d params: estimate %v s, measured %v s", k.Hospitals, k.Params, got, k.VerifySeconds)
		}
	}
}
