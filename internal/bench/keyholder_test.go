package bench

import (
	"testing"

	"github.com/fedcrypt/fedcrypt/federation"
	"github.com/fedcrypt/fedcrypt/he"
	"github.com/fedcrypt/fedcrypt/internal/transport"
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
			env, err := federation.ParseEnvelope(r.request)
			if err != nil {
				t.Fatal(err)
			}
			req, err := transport.ParseDecryptRequest(env.Body)
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
