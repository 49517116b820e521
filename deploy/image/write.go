package image

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// WriteTarball writes img, tagged tag ("fedcrypt:0.1.0"), to the file path
// in the format of "docker save", which "docker load" and "podman load"
// read. It refuses to overwrite an existing file, and writes through a
// temporary file beside path so a failed write leaves nothing behind.
func WriteTarball(path, tag string, img v1.Image) error {
	ref, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("image: tag %q: %w", tag, err)
	}
	if err := refuseExisting(path); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".mkimage-*.tar")
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	defer os.Remove(f.Name())
	if err := tarball.Write(ref, img, f); err != nil {
		f.Close()
		return fmt.Errorf("image: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("image: write %s: %w", path, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	return nil
}

// WriteLayout writes img as the only image of a new OCI image layout
// directory dir (oci-layout, index.json, blobs/sha256/...), its index entry
// annotated with tag as org.opencontainers.image.ref.name, so that
// "skopeo copy oci:DIR:TAG ..." finds it. dir must not exist or be empty.
func WriteLayout(dir, tag string, img v1.Image) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("image: %s exists and is not empty: refusing to write an OCI layout into it", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("image: %w", err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("image: OCI layout %s: %w", dir, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	err = p.AppendImage(img,
		layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag}),
		layout.WithPlatform(v1.Platform{OS: cf.OS, Architecture: cf.Architecture}))
	if err != nil {
		return fmt.Errorf("image: OCI layout %s: %w", dir, err)
	}
	return nil
}

func refuseExisting(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("image: %s exists: refusing to overwrite it", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("image: %w", err)
	}
	return nil
}
