package sim

import (
	"context"
	"fmt"
	"slices"

	"github.com/fedcrypt/fedcrypt/data"
	"github.com/fedcrypt/fedcrypt/model"
)

// A Site is one hospital's own rows in a site-native simulation: each site
// is one hospital, with its own population, ranges and gaps, rather than a
// random share of one pooled file.
type Site struct {
	Name string
	Data *data.Dataset
}

// SiteResult is the final model on one hospital's own held-out rows.
type SiteResult struct {
	Name      string `json:"name"`
	Hospital  string `json:"hospital"`
	TrainRows int    `json:"train_rows"`
	TestRows  int    `json:"test_rows"`
	model.Metrics
}

// RunSites simulates a federation of one hospital per site: each holds out
// cfg.TestFraction of its own rows (stratified) and trains on the rest.
// The sites must share one schema (data sets loaded under the same
// options: the same features, a column a site lacks read as missing, and
// the same classes). cfg.Hospitals and cfg.Partition are taken from the
// sites; the result adds each site's held-out metrics (Result.Sites) to
// those on every site's held-out rows together.
func RunSites(ctx context.Context, sites []Site, cfg Config) (*Result, error) {
	if len(sites) < 2 {
		return nil, fmt.Errorf("a site-native federation needs at least 2 sites, got %d", len(sites))
	}
	cfg.Sites = nil
	for _, s := range sites {
		if s.Name == "" || slices.Contains(cfg.Sites, s.Name) {
			return nil, fmt.Errorf("site name %q is empty or repeated", s.Name)
		}
		cfg.Sites = append(cfg.Sites, s.Name)
	}
	cfg.Hospitals, cfg.Partition = len(sites), data.Scheme{Kind: "iid"}
	return runSites(ctx, sites, cfg)
}

// splitSites holds out test rows and gives each hospital its rows: with
// one unnamed site, a split of its rows partitioned as cfg says; with
// sites, each site's own split. tests are the sites' held-out rows (nil
// without sites).
func splitSites(sites []Site, cfg Config, seed uint64) (train, test *data.Dataset, parts, tests []*data.Dataset, err error) {
	if len(cfg.Sites) == 0 {
		if len(sites) != 1 {
			return nil, nil, nil, nil, fmt.Errorf("%d data sets without site names", len(sites))
		}
		train, test, parts, err = split(sites[0].Data, cfg, seed)
		return train, test, parts, nil, err
	}
	if len(sites) != len(cfg.Sites) {
		return nil, nil, nil, nil, fmt.Errorf("%d sites, the run has %d (%v)", len(sites), len(cfg.Sites), cfg.Sites)
	}
	for i, s := range sites {
		if s.Name != cfg.Sites[i] {
			return nil, nil, nil, nil, fmt.Errorf("site %d is %q, the run's is %q", i+1, s.Name, cfg.Sites[i])
		}
		tr, te, err := data.StratifiedSplit(s.Data, cfg.TestFraction, seed+uint64(i))
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("site %q: hold out test rows: %w", s.Name, err)
		}
		parts, tests = append(parts, tr), append(tests, te)
	}
	if train, err = data.Concat("all sites' training rows", parts...); err != nil {
		return nil, nil, nil, nil, err
	}
	if test, err = data.Concat("all sites' test rows", tests...); err != nil {
		return nil, nil, nil, nil, err
	}
	return train, test, parts, tests, nil
}
