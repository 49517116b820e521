// Package image builds fedcrypt's OCI container image without a container
// engine: an empty base (scratch) plus one layer holding the static fedcrypt
// binary at /fedcrypt, run as the non-root user 65532:65532 (no /etc/passwd
// is needed: the user is numeric).
//
// The build is reproducible: the layer's tar entry has a fixed owner, mode
// and modification time, the config's creation time is a fixed epoch (by
// convention SOURCE_DATE_EPOCH), and gzip is deterministic, so two builds of
// the same binary give the same image digest. The binary itself is
// reproducible when built by [BuildBinary] (static, -trimpath, no VCS
// stamp, stripped) from the same source with the same Go toolchain.
package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Fixed properties of the image.
const (
	// BinaryPath is where the layer puts the binary; it is the entrypoint.
	BinaryPath = "/fedcrypt"
	// User is the numeric user and group the container runs as: the
	// "nonroot" user of distroless images, with no entry in /etc/passwd.
	User = "65532:65532"
	// Source is the project's repository, for the image's source label.
	Source = "https://github.com/fedcrypt/fedcrypt"
	// License is the SPDX identifier of the project's license.
	License = "Apache-2.0"
)

// Config describes one image build. It is a plain value; [Config.Validate]
// checks it.
type Config struct {
	// Binary is the path of a static linux fedcrypt binary (see BuildBinary).
	Binary string
	// Version is the software version, for the version label
	// ("fedcrypt version" prints it).
	Version string
	// Revision is the source revision (a git commit), for the revision
	// label; optional.
	Revision string
	// Arch is the binary's GOARCH: amd64 or arm64.
	Arch string
	// Created is the image's creation time and the layer's file times. Use
	// a fixed epoch (SOURCE_DATE_EPOCH, or the last commit's time): the
	// wall clock would make every build's digest differ.
	Created time.Time
}

// Validate reports the first thing wrong with c.
func (c Config) Validate() error {
	switch {
	case c.Binary == "":
		return errors.New("image: no binary given")
	case c.Version == "":
		return errors.New("image: no version given")
	case c.Arch != "amd64" && c.Arch != "arm64":
		return fmt.Errorf("image: architecture %q: want amd64 or arm64", c.Arch)
	case c.Created.IsZero() || c.Created.Before(time.Unix(0, 0)):
		return fmt.Errorf("image: creation time %v: want a fixed time at or after the Unix epoch", c.Created)
	}
	return nil
}

// Labels returns the image's OCI annotation labels.
func (c Config) Labels() map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       "fedcrypt",
		"org.opencontainers.image.description": "Privacy-preserving federated training: DP-SGD, multiparty CKKS, age encryption at rest",
		"org.opencontainers.image.source":      Source,
		"org.opencontainers.image.version":     c.Version,
		"org.opencontainers.image.licenses":    License,
		"org.opencontainers.image.created":     c.Created.UTC().Format(time.RFC3339),
	}
	if c.Revision != "" {
		l["org.opencontainers.image.revision"] = c.Revision
	}
	return l
}

// Build returns the image described by cfg. The binary is read into
// memory once; the returned image is safe for concurrent use.
func Build(cfg Config) (v1.Image, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	bin, err := os.ReadFile(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("image: read binary: %w", err)
	}
	layerTar, err := binaryLayer(bin, cfg.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("image: layer: %w", err)
	}
	// go-containerregistry v0.22's tarball layers describe themselves with
	// an empty, non-nil annotation map, which the manifest then carries as
	// "{}" only in memory, so validate.Image finds the manifest inconsistent
	// with its own serialization; the plain wrapper describes the layer from
	// its digest, size and media type alone.
	layer = plainLayer{layer}
	created := v1.Time{Time: cfg.Created.UTC()}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, MediaType: types.OCILayer, History: v1.History{
		Created:   created,
		CreatedBy: "fedcrypt deploy/cmd/mkimage: COPY fedcrypt " + BinaryPath,
		Comment:   "static fedcrypt binary",
	}})
	if err != nil {
		return nil, fmt.Errorf("image: append layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image: config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture = cfg.Arch
	cf.OS = "linux"
	cf.Created = created
	cf.Author = ""
	cf.Config = v1.Config{
		Entrypoint: []string{BinaryPath},
		User:       User,
		WorkingDir: "/",
		Labels:     cfg.Labels(),
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image: config: %w", err)
	}
	return img, nil
}

// plainLayer is a layer without its own descriptor (see Build).
type plainLayer struct{ v1.Layer }

// binaryLayer returns an uncompressed tar holding bin as BinaryPath, owned
// by root and not writable by the container's user, with fixed times.
func binaryLayer(bin []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     strings.TrimPrefix(BinaryPath, "/"),
		Mode:     0o555,
		Size:     int64(len(bin)),
		ModTime:  mtime.UTC().Truncate(time.Second),
		Format:   tar.FormatUSTAR,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, fmt.Errorf("image: layer: %w", err)
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, fmt.Errorf("image: layer: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("image: layer: %w", err)
	}
	return buf.Bytes(), nil
}

// BuildBinary builds fedcrypt from the module whose root is src (the
// repository root) for linux/arch into dst: static (CGO_ENABLED=0),
// -trimpath, no VCS stamp, symbols and DWARF stripped, so the same source
// and toolchain give the same bytes. The go command's output is returned
// in the error when the build fails.
func BuildBinary(ctx context.Context, src, arch, dst string) error {
	abs, err := filepath.Abs(dst)
	if err != nil {
		return fmt.Errorf("build fedcrypt: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=",
		"-o", abs, "./cmd/fedcrypt")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build fedcrypt in %s: %w: %s", src, err, strings.Join(strings.Fields(string(out)), " "))
	}
	return nil
}
