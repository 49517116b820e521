package federation

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/fedavg"
	"github.com/fedcrypt/fedcrypt/model"
	"github.com/fedcrypt/fedcrypt/stats"
	"github.com/fedcrypt/fedcrypt/vault"
)

var (
	recipientOnce sync.Once
	recipient     string
)

// testRecipient is one age recipient shared by every test party, so that
// two test configs are equal.
func testRecipient(t testing.TB) string {
	recipientOnce.Do(func() {
		id, err := vault.GenerateIdentity()
		if err != nil {
			t.Fatal(err)
		}
		recipient = id.Recipient().String()
	})
	return recipient
}

// testConfig returns a valid config of n members (all contributors and key
// holders) with deterministic keys, and the members' private keys.
func testConfig(t testing.TB, n, threshold int) (*Config, map[string]ed25519.PrivateKey) {
	recipient := testRecipient(t)
	keys := map[string]ed25519.PrivateKey{}
	party := func(id string, seed byte) Party {
		k := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
		keys[id] = k
		return Party{ID: id, Recipient: recipient, SigningKey: vault.FormatSigningKey(k.Public().(ed25519.PublicKey))}
	}
	c := &Config{
		Version:         Version,
		Name:            "test",
		Aggregator:      party("aggregator", 100),
		Threshold:       threshold,
		MinContributors: threshold,
		MaxDecryptions:  3,
		HE:              HE{Enabled: true, Preset: "compact", UpdateBound: 1},
		DP:              DP{Enabled: true, Epsilon: 1, Delta: 1e-5, Accountant: "rdp", ClipNorm: 1, SampleRate: 0.1},
		Model:           model.Config{Kind: "logreg", Inputs: 3, Outputs: 1, Loss: "bce"},
		Data: DataSpec{Options: data.Options{Label: "y"}, Normalize: "zscore",
			Schema: data.Schema{Features: []string{"a", "b", "c"}, Label: "y", Classes: []string{"0", "1"}},
			Stats:  stats.Spec{EpsilonShare: 0.1, Features: []stats.FeatureSpec{{Name: "a", Bounds: &[2]float64{0, 1}, Bins: 4}}}},
		Training: Training{Rounds: 2, LocalSteps: 5, Local: model.OptimizerConfig{Name: "sgd", LR: 0.1},
			Server: fedavg.Config{Name: "fedavg"}, Weighting: "equal"},
	}
	for i := range n {
		c.Members = append(c.Members, Member{Party: party(fmt.Sprintf("h%d", i+1), byte(i+1)), Contributor: true, KeyHolder: true, Rows: 10 * (i + 1)})
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("test config invalid: %v", err)
	}
	return c, keys
}

func TestValidateRejects(t *testing.T) {
	cases := map[string]func(c *Config){
		"threshold 1":             func(c *Config) { c.Threshold = 1 },
		"threshold above holders": func(c *Config) { c.Threshold = 4 },
		"no contributors needed":  func(c *Config) { c.MinContributors = 0 },
		"a sum of one upload":     func(c *Config) { c.MinContributors = 1 },
		"duplicate id":            func(c *Config) { c.Members[1].ID = "h1" },
		"bad recipient":           func(c *Config) { c.Members[0].Recipient = "ssh-ed25519 AAAA" },
		"bad signing key":         func(c *Config) { c.Members[0].SigningKey = "abc" },
		"epsilon zero":            func(c *Config) { c.DP.Epsilon = 0 },
		"delta one":               func(c *Config) { c.DP.Delta = 1 },
		"sample rate 2":           func(c *Config) { c.DP.SampleRate = 2 },
		"unknown accountant":      func(c *Config) { c.DP.Accountant = "moments" },
		"bad model":               func(c *Config) { c.Model.Kind = "svm" },
		"no rounds":               func(c *Config) { c.Training.Rounds = 0 },
		"role-less member":        func(c *Config) { c.Members[2].Contributor, c.Members[2].KeyHolder = false, false },
		"he without preset":       func(c *Config) { c.HE.Preset = "" },
		"google sampler, 1e9 draws": func(c *Config) {
			c.DP.Noise, c.Model = "google", model.Config{Kind: "mlp", Inputs: 3, Outputs: 1, Hidden: []int{1000, 1000}, Loss: "bce"}
			c.Training.Rounds, c.Training.LocalSteps = 100, 100
		},
		"unknown preset":        func(c *Config) { c.HE.Preset = "huge" },
		"auditor bad recipient": func(c *Config) { c.Auditors = []Party{{ID: "au", Recipient: "x"}} },
		"post-quantum auditor, classical parties": func(c *Config) {
			c.Auditors = []Party{{ID: "au", Recipient: pqRecipient(t)}}
		},
		"post-quantum member, classical auditor": func(c *Config) {
			c.Auditors = []Party{{ID: "au", Recipient: c.Aggregator.Recipient}}
			c.Members[1].Recipient = pqRecipient(t)
		},
		"version": func(c *Config) { c.Version = Version + 1 },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			c, _ := testConfig(t, 3, 2)
			mutate(c)
			if err := c.Validate(); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestHashIsStableAndSensitive(t *testing.T) {
	a, _ := testConfig(t, 3, 2)
	b, _ := testConfig(t, 3, 2)
	if a.Hash() != b.Hash() {
		t.Fatal("equal configs hash differently")
	}
	parsed, err := Parse(bytes.NewReader(a.Marshal()), "config.json")
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Hash() != a.Hash() {
		t.Fatal("hash changed through Marshal and Parse")
	}
	b.DP.Epsilon = 1.0000001
	if a.Hash() == b.Hash() {
		t.Fatal("hash ignores epsilon")
	}
}

func TestParseRejectsUnknownFieldsAndTrailingData(t *testing.T) {
	c, _ := testConfig(t, 3, 2)
	raw := c.Marshal()
	withField := bytes.Replace(raw, []byte(`"name": "test"`), []byte(`"name": "test", "threshhold": 3`), 1)
	if _, err := Parse(bytes.NewReader(withField), "f.json"); err == nil || !strings.Contains(err.Error(), "threshhold") {
		t.Fatalf("unknown field: %v", err)
	}
	if _, err := Parse(bytes.NewReader(append(raw, "{}"...)), "f.json"); err == nil {
		t.Fatal("trailing data accepted")
	}
}

func TestWeights(t *testing.T) {
	c, _ := testConfig(t, 3, 2)
	if w := c.Weight("h2"); w != 1 {
		t.Fatalf("equal weighting gave %v", w)
	}
	c.Training.Weighting = "rows"
	if w := c.Weight("h2"); w != 20.0/30 {
		t.Fatalf("row weighting gave %v, want 2/3", w)
	}
}

func FuzzParseConfig(f *testing.F) {
	c, _ := testConfig(f, 3, 2)
	f.Add(c.Marshal())
	f.Add(textConfig(f, 3).Marshal())
	f.Add([]byte(`{"version":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(bytes.NewReader(data), "fuzz.json")
		if err != nil {
			return
		}
		again, err := Parse(bytes.NewReader(c.Marshal()), "again.json")
		if err != nil {
			t.Fatalf("accepted config does not re-parse: %v", err)
		}
		if again.Hash() != c.Hash() {
			t.Fatal("hash changed through a round trip")
		}
	})
}

var (
	pqOnce sync.Once
	pq     string
)

// pqRecipient is a post-quantum hybrid recipient (age1pq1…).
func pqRecipient(t testing.TB) string {
	pqOnce.Do(func() {
		id, err := vault.GenerateHybridIdentity()
		if err != nil {
			t.Fatal(err)
		}
		pq = id.Recipient().String()
	})
	return pq
}

// TestRecipientKindsWithAuditors: a member and the aggregator seal files to
// themselves and the auditors together, which age allows only for recipients
// of one kind; kinds may differ where nothing is sealed to both.
func TestRecipientKindsWithAuditors(t *testing.T) {
	c, _ := testConfig(t, 3, 2)
	c.Auditors = []Party{{ID: "au", Recipient: pqRecipient(t)}}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), `aggregator "aggregator" has a classical`) || !strings.Contains(err.Error(), `auditor "au"`) {
		t.Fatalf("mixed kinds: %v", err)
	}
	c.Aggregator.Recipient = pqRecipient(t)
	for i := range c.Members {
		c.Members[i].Recipient = pqRecipient(t)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("all post-quantum: %v", err)
	}
	c.Auditors = nil
	c.Members[0].Recipient = testRecipient(t)
	if err := c.Validate(); err != nil {
		t.Fatalf("mixed kinds without auditors: %v", err)
	}
}
