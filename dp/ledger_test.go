package dp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// memStore is a Store in memory that can be made to fail.
type memStore struct {
	b     []byte
	saves int
	fail  error
}

func (m *memStore) Load(context.Context) ([]byte, error) {
	if m.b == nil {
		return nil, fs.ErrNotExist
	}
	return m.b, nil
}

func (m *memStore) Save(_ context.Context, b []byte) error {
	if m.fail != nil {
		return m.fail
	}
	m.b = append([]byte(nil), b...)
	m.saves++
	return nil
}

func testDataset(t *testing.T) string {
	t.Helper()
	id, err := DatasetID(bytes.Repeat([]byte{7}, 32), strings.NewReader("age,label\n61,1\n45,0\n"))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func newTestLedger(t *testing.T, kind string) *Ledger {
	t.Helper()
	l, err := NewLedger(testDataset(t), 5000, LedgerConfig{EpsilonCap: 2, Delta: 1e-5, Accountant: AccountantConfig{Kind: kind}})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func round(i int) Entry {
	return Entry{Run: "fed-1/round-" + string(rune('0'+i)), Kind: EntryTraining, ClipNorm: 1, PrivacyUnit: "record",
		Event: Event{SampleRate: 0.02, NoiseMultiplier: 1.1, Steps: 100}}
}

func TestLedgerReserveUntilCap(t *testing.T) {
	for _, kind := range []string{KindRDP, KindPLD} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			store := FileStore{Path: filepath.Join(t.TempDir(), "ledger.json")}
			l := newTestLedger(t, kind)
			var refused error
			prev := 0.0
			for i := 1; i < 10 && refused == nil; i++ {
				eps, err := l.Reserve(ctx, store, round(i))
				if err != nil {
					refused = err
					break
				}
				if eps <= prev || eps > 2 {
					t.Fatalf("round %d: ε %v after %v (cap 2)", i, eps, prev)
				}
				prev = eps
				// The spend is on disk when Reserve returns.
				back, err := LoadLedger(ctx, store)
				if err != nil {
					t.Fatal(err)
				}
				if back.Epsilon() != eps || len(back.Entries()) != i {
					t.Fatalf("round %d: stored ledger has ε %v and %d entries", i, back.Epsilon(), len(back.Entries()))
				}
			}
			if !errors.Is(refused, ErrBudgetExhausted) {
				t.Fatalf("never refused: error %v", refused)
			}
			n := len(l.Entries())
			want, _ := Epsilon(l.Config().Accountant, 1e-5, events(append(l.Entries(), round(9)))...)
			if want <= 2 {
				t.Errorf("refused although the next round reaches only ε %v", want)
			}
			back, _ := LoadLedger(ctx, store)
			if len(back.Entries()) != n || back.Epsilon() != prev {
				t.Errorf("refused round changed the stored ledger")
			}
			if err := back.Verify(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestLedgerSaveFailureRecordsNothing(t *testing.T) {
	l := newTestLedger(t, KindRDP)
	st := &memStore{fail: errors.New("disk full")}
	if _, err := l.Reserve(context.Background(), st, round(1)); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("error %v", err)
	}
	if len(l.Entries()) != 0 || l.Epsilon() != 0 {
		t.Error("a spend that was not saved is in the ledger")
	}
}

func TestLedgerDeterministic(t *testing.T) {
	build := func() []byte {
		l := newTestLedger(t, KindRDP)
		st := &memStore{}
		for i := 1; i <= 2; i++ {
			if _, err := l.Reserve(context.Background(), st, round(i)); err != nil {
				t.Fatal(err)
			}
		}
		return st.b
	}
	a, b := build(), build()
	if !bytes.Equal(a, b) {
		t.Fatalf("same ledger, different bytes:\n%s\n%s", a, b)
	}
	l, err := UnmarshalLedger(a)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := l.MarshalJSON()
	if !bytes.Equal(a, c) {
		t.Errorf("round trip changed the bytes:\n%s\n%s", a, c)
	}
}

func TestLedgerVerifyDetectsTampering(t *testing.T) {
	l := newTestLedger(t, KindRDP)
	st := &memStore{}
	l.Reserve(context.Background(), st, round(1))
	l.Reserve(context.Background(), st, round(2))
	tampered := bytes.Replace(st.b, []byte(`"noise_multiplier":1.1`), []byte(`"noise_multiplier":1.6`), 1)
	back, err := UnmarshalLedger(tampered)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Verify(); err == nil || !strings.Contains(err.Error(), "entry 0") {
		t.Errorf("Verify: %v", err)
	}
}

func TestLedgerWarnings(t *testing.T) {
	cfg := LedgerConfig{EpsilonCap: 1, Delta: 1e-3, Accountant: AccountantConfig{Kind: KindRDP}}
	small, _ := NewLedger(testDataset(t), 500, cfg)
	large, _ := NewLedger(testDataset(t), 5000, cfg)
	if w := large.Warnings(); len(w) != 1 || !strings.Contains(w[0], "1/5000") {
		t.Errorf("δ = 1e-3 ≥ 1/5000: warnings %q", w)
	}
	if w := small.Warnings(); len(w) != 0 {
		t.Errorf("δ = 1e-3 < 1/500: warnings %q", w)
	}
}

func TestDatasetID(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 16)
	a, _ := DatasetID(k1, strings.NewReader("rows"))
	b, _ := DatasetID(k1, strings.NewReader("rows"))
	c, _ := DatasetID(k2, strings.NewReader("rows"))
	d, _ := DatasetID(k1, strings.NewReader("rows!"))
	if a != b || a == c || a == d || len(a) != 64 {
		t.Errorf("ids %s %s %s %s", a, b, c, d)
	}
	if _, err := DatasetID(k1[:8], strings.NewReader("rows")); err == nil || !strings.Contains(err.Error(), "8 bytes") {
		t.Errorf("short key: %v", err)
	}
}

func TestUnmarshalLedgerBad(t *testing.T) {
	l := newTestLedger(t, KindRDP)
	st := &memStore{}
	l.Reserve(context.Background(), st, round(1))
	good := string(st.b)
	cases := []struct{ name, in, want string }{
		{"empty", "", "decode ledger"},
		{"garbage", "{", "decode ledger"},
		{"version", strings.Replace(good, `"version":1`, `"version":2`, 1), "version 2"},
		{"dataset", strings.Replace(good, `"dataset":"`, `"dataset":"x`, 1), "data set"},
		{"rows", strings.Replace(good, `"rows":5000`, `"rows":0`, 1), "rows 0"},
		{"cap", strings.Replace(good, `"epsilon_cap":2`, `"epsilon_cap":-1`, 1), "epsilon cap -1"},
		{"kind", strings.Replace(good, `"kind":"dp-sgd"`, `"kind":"other"`, 1), `kind "other"`},
		{"over cap", regexp.MustCompile(`"record","epsilon":[0-9.e-]+`).ReplaceAllString(good, `"record","epsilon":9`), "entry 0"},
		{"unknown field", strings.Replace(good, `"rows"`, `"extra":1,"rows"`, 1), "extra"},
		{"trailing", good + "{}", "after the ledger"},
		{"steps", strings.Replace(good, `"steps":100`, `"steps":-3`, 1), "steps -3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := UnmarshalLedger([]byte(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line containing %q", err, c.want)
			}
		})
	}
}

func FuzzUnmarshalLedger(f *testing.F) {
	l, _ := NewLedger(strings.Repeat("ab", 32), 100, LedgerConfig{EpsilonCap: 3, Delta: 1e-5, Accountant: AccountantConfig{Kind: KindRDP}})
	st := &memStore{}
	l.Reserve(context.Background(), st, round(1))
	f.Add(st.b)
	f.Add([]byte(`{"version":1,"dataset":"` + strings.Repeat("0", 64) + `","rows":1,"budget":{"epsilon_cap":1,"delta":0.5,"accountant":{"kind":"pld"}},"entries":[]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := UnmarshalLedger(b)
		if err != nil {
			return
		}
		out, err := l.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		back, err := UnmarshalLedger(out)
		if err != nil {
			t.Fatalf("re-decode: %v\n%s", err, out)
		}
		again, _ := back.MarshalJSON()
		if !bytes.Equal(out, again) {
			t.Fatalf("not a fixed point:\n%s\n%s", out, again)
		}
	})
}

// TestReleaseCounts releases counts with Google's sampler (no rng) and
// with the package's own keyed from a stream: either way the release is
// charged first, and the noise has mean 0 and the standard deviation
// asked for.
func TestReleaseCounts(t *testing.T) {
	cases := []struct {
		name string
		rng  func() io.Reader
	}{
		{"google", func() io.Reader { return nil }},
		{"seeded stream", func() io.Reader { return rand.NewChaCha8([32]byte{1}) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newTestLedger(t, KindRDP)
			st := &memStore{}
			counts := make([]int64, 4000)
			for i := range counts {
				counts[i] = int64(i % 50)
			}
			const sigma, sensitivity = 10.0, 2.0
			noisy, err := l.ReleaseVectorFrom(context.Background(), st, "report-1", "record", counts, sensitivity, sigma, c.rng())
			if err != nil {
				t.Fatal(err)
			}
			if st.saves != 1 || l.Entries()[0].Kind != EntryRelease || l.Entries()[0].Event.NoiseMultiplier != sigma {
				t.Fatalf("release not charged: %d saves, entries %+v", st.saves, l.Entries())
			}
			var sum, sq float64
			for i := range counts {
				d := float64(noisy[i] - counts[i])
				sum += d
				sq += d * d
			}
			n, std := float64(len(counts)), sigma*sensitivity
			sd := math.Sqrt(sq/n - (sum/n)*(sum/n))
			if math.Abs(sum/n) > 4*std/math.Sqrt(n) || sd < std*0.95 || sd > std*1.06 {
				t.Errorf("noise mean %v, standard deviation %v: want 0 and ≥ %v", sum/n, sd, std)
			}
			if _, err := l.ReleaseVectorFrom(context.Background(), st, "report-2", "record", counts, 1, 0.01, c.rng()); !errors.Is(err, ErrBudgetExhausted) {
				t.Errorf("release beyond the cap: %v", err)
			}
			if st.saves != 1 {
				t.Error("a refused release was saved")
			}
		})
	}
}

// TestReleaseRepeatsFromAStream: a release keyed from a stream is a
// function of the stream; Google's sampler never repeats.
func TestReleaseRepeatsFromAStream(t *testing.T) {
	counts := []int64{3, 0, 17, 250, 1, 1, 9, 40}
	release := func(rng io.Reader) []int64 {
		t.Helper()
		out, err := newTestLedger(t, KindRDP).ReleaseVectorFrom(context.Background(), &memStore{}, "report", "record", counts, 1, 5, rng)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	stream := func(b byte) io.Reader { return rand.NewChaCha8([32]byte{b}) }
	if a, b := release(stream(1)), release(stream(1)); !slices.Equal(a, b) {
		t.Errorf("one stream, two releases: %v, %v", a, b)
	}
	if a, b := release(stream(1)), release(stream(2)); slices.Equal(a, b) {
		t.Errorf("two streams, one release: %v", a)
	}
	if a, b := release(nil), release(nil); slices.Equal(a, b) {
		t.Errorf("Google's sampler repeated itself: %v", a)
	}
}
