package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// epoch is the fixed creation time of the test images.
var epoch = time.Unix(1767225600, 0).UTC() // 2026-01-01T00:00:00Z

// repoRoot is the fedcrypt repository, two levels above this package.
const repoRoot = "../.."

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// builtBinaries builds fedcrypt twice, into two directories, and returns
// both paths: a reproducible build gives the same bytes.
func builtBinaries(t *testing.T) (string, string) {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "fedcrypt-image-test-"); binErr != nil {
			return
		}
		for _, sub := range []string{"a", "b"} {
			if binErr = BuildBinary(context.Background(), repoRoot, "amd64", filepath.Join(binDir, sub, "fedcrypt")); binErr != nil {
				return
			}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "a", "fedcrypt"), filepath.Join(binDir, "b", "fedcrypt")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func testConfig(bin string) Config {
	return Config{Binary: bin, Version: "0.1.0-test", Revision: "0123abc", Arch: "amd64", Created: epoch}
}

func TestImageReproducibleAndRunnable(t *testing.T) {
	binA, binB := builtBinaries(t)
	dir := t.TempDir()
	const tag = "fedcrypt:0.1.0-test"

	// Two builds, from two builds of the binary, each written both ways.
	var digests, configs []v1.Hash
	var tarSums [][32]byte
	for i, bin := range []string{binA, binB} {
		img, err := Build(testConfig(bin))
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(img); err != nil {
			t.Fatalf("build %d does not validate: %v", i, err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d)
		c, err := img.ConfigName()
		if err != nil {
			t.Fatal(err)
		}
		configs = append(configs, c)
		tb := filepath.Join(dir, "image-"+string(rune('a'+i))+".tar")
		if err := WriteTarball(tb, tag, img); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(tb)
		if err != nil {
			t.Fatal(err)
		}
		tarSums = append(tarSums, sha256.Sum256(raw))
		if err := WriteLayout(filepath.Join(dir, "oci-"+string(rune('a'+i))), tag, img); err != nil {
			t.Fatal(err)
		}
	}
	if digests[0] != digests[1] || configs[0] != configs[1] {
		t.Fatalf("two builds give different images: digests %s and %s, image IDs %s and %s", digests[0], digests[1], configs[0], configs[1])
	}
	if tarSums[0] != tarSums[1] {
		t.Errorf("two builds give different tarballs: sha256 %x and %x", tarSums[0], tarSums[1])
	}
	t.Logf("image digest %s, image ID %s (both builds)", digests[0], configs[0])

	// Read both formats back, as a loader would.
	tagRef := mustTag(t, tag)
	fromTar, err := tarball.ImageFromPath(filepath.Join(dir, "image-a.tar"), &tagRef)
	if err != nil {
		t.Fatalf("read the tarball back: %v", err)
	}
	idx, err := layout.ImageIndexFromPath(filepath.Join(dir, "oci-a"))
	if err != nil {
		t.Fatalf("read the OCI layout back: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != tag {
		t.Fatalf("OCI layout index: %d manifests, annotations %v; want one named %q", len(im.Manifests), im.Manifests, tag)
	}
	fromLayout, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	for format, img := range map[string]v1.Image{"tarball": fromTar, "OCI layout": fromLayout} {
		t.Run(format, func(t *testing.T) {
			if err := validate.Image(img); err != nil {
				t.Fatalf("does not validate: %v", err)
			}
			// docker load names an image by its config's digest (the image
			// ID); the docker-save format keeps no manifest, so only the
			// OCI layout keeps the manifest digest.
			id, err := img.ConfigName()
			if err != nil {
				t.Fatal(err)
			}
			if id != configs[0] {
				t.Errorf("image ID read back %s, built %s", id, configs[0])
			}
			if format == "OCI layout" {
				if d, err := img.Digest(); err != nil || d != digests[0] {
					t.Errorf("digest read back %s (%v), built %s", d, err, digests[0])
				}
			}
			checkConfig(t, img)
			checkBinaryRuns(t, img)
		})
	}
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

// checkConfig checks the image's config: entrypoint, non-root user,
// platform, labels and fixed times.
func checkConfig(t *testing.T, img v1.Image) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := cf.Config.Entrypoint; len(got) != 1 || got[0] != "/fedcrypt" {
		t.Errorf("entrypoint %q, want [/fedcrypt]", got)
	}
	user := cf.Config.User
	uid, _, _ := strings.Cut(user, ":")
	if uid == "" || uid == "0" || uid == "root" {
		t.Errorf("user %q runs as root", user)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform %s/%s, want linux/amd64", cf.OS, cf.Architecture)
	}
	if !cf.Created.Time.Equal(epoch) {
		t.Errorf("created %v, want the fixed epoch %v", cf.Created.Time, epoch)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.source":   Source,
		"org.opencontainers.image.version":  "0.1.0-test",
		"org.opencontainers.image.licenses": "Apache-2.0",
		"org.opencontainers.image.revision": "0123abc",
	} {
		if got := cf.Config.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 || len(cf.RootFS.DiffIDs) != 1 {
		t.Errorf("%d layers, %d diff ids; want one of each on an empty base", len(layers), len(cf.RootFS.DiffIDs))
	}
}

// checkBinaryRuns extracts /fedcrypt from the image's filesystem and runs
// its --help.
func checkBinaryRuns(t *testing.T, img v1.Image) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) == 0 {
		t.Fatalf("layers: %v (%d)", err, len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var bin []byte
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("layer: %v", err)
		}
		if "/"+strings.TrimPrefix(hdr.Name, "./") != BinaryPath {
			t.Errorf("layer holds %q besides the binary", hdr.Name)
			continue
		}
		if hdr.Uid != 0 || hdr.Gid != 0 || hdr.Mode&0o222 != 0 || hdr.Mode&0o111 == 0 {
			t.Errorf("binary owned by %d:%d mode %o; want root-owned, executable, read-only", hdr.Uid, hdr.Gid, hdr.Mode)
		}
		if !hdr.ModTime.Equal(epoch) {
			t.Errorf("binary mtime %v, want the fixed epoch %v", hdr.ModTime, epoch)
		}
		if bin, err = io.ReadAll(tr); err != nil {
			t.Fatal(err)
		}
	}
	if bin == nil {
		t.Fatalf("no %s in the layer", BinaryPath)
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("cannot run a linux/amd64 binary on %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	path := filepath.Join(t.TempDir(), "fedcrypt")
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(path, "--help")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("extracted binary --help: %v; stderr: %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "usage:") || !strings.Contains(stderr.String(), "aggregator") {
		t.Errorf("extracted binary --help printed no usage naming its commands: %q", stderr.String())
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{Binary: "fedcrypt", Version: "1", Arch: "amd64", Created: epoch}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"good", func(*Config) {}, true},
		{"arm64", func(c *Config) { c.Arch = "arm64" }, true},
		{"no binary", func(c *Config) { c.Binary = "" }, false},
		{"no version", func(c *Config) { c.Version = "" }, false},
		{"unknown arch", func(c *Config) { c.Arch = "386" }, false},
		{"zero time", func(c *Config) { c.Created = time.Time{} }, false},
		{"before the epoch", func(c *Config) { c.Created = time.Unix(-1, 0) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok = %v", err, tc.ok)
			}
		})
	}
}

// TestDigestDependsOnInputs guards the reproducibility test against a
// digest that ignores its inputs: a changed byte, time or label changes it.
func TestDigestDependsOnInputs(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "fedcrypt")
	if err := os.WriteFile(bin, []byte("not really a binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	base := Config{Binary: bin, Version: "1", Arch: "amd64", Created: epoch}
	digest := func(c Config) v1.Hash {
		t.Helper()
		img, err := Build(c)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	ref := digest(base)
	if again := digest(base); again != ref {
		t.Fatalf("same inputs, digests %s and %s", ref, again)
	}
	later := base
	later.Created = epoch.Add(time.Second)
	other := base
	other.Version = "2"
	bin2 := filepath.Join(dir, "fedcrypt2")
	if err := os.WriteFile(bin2, []byte("not really a binary!"), 0o755); err != nil {
		t.Fatal(err)
	}
	changed := base
	changed.Binary = bin2
	for name, c := range map[string]Config{"created": later, "version": other, "binary": changed} {
		if digest(c) == ref {
			t.Errorf("changing the %s leaves the digest unchanged", name)
		}
	}
}

func TestWriteRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "fedcrypt")
	if err := os.WriteFile(bin, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	img, err := Build(Config{Binary: bin, Version: "1", Arch: "amd64", Created: epoch})
	if err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(dir, "image.tar")
	if err := os.WriteFile(existing, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteTarball(existing, "fedcrypt:1", img); err == nil {
		t.Error("WriteTarball over an existing file succeeded")
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Errorf("the existing file was changed: %q", b)
	}
	if err := WriteLayout(dir, "fedcrypt:1", img); err == nil {
		t.Error("WriteLayout into a non-empty directory succeeded")
	}
}
