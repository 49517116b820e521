// Command mkimage builds fedcrypt's container image without a container
// engine: the static fedcrypt binary on an empty base, run as the non-root
// user 65532:65532 with entrypoint /fedcrypt, written as a "docker save"
// tarball (for docker load and podman load) and/or an OCI image layout
// directory. The build is reproducible: the same source, Go toolchain and
// epoch give the same digest.
//
// Usage, from the deploy directory:
//
//	go run ./cmd/mkimage -tarball ../fedcrypt.tar -oci ../fedcrypt-oci
//
// The creation time is -epoch, else $SOURCE_DATE_EPOCH, else the time of the
// source's last git commit, else the Unix epoch; never the wall clock.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/fedcrypt/fedcrypt/deploy/image"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mkimage: %s\n", strings.Join(strings.Fields(err.Error()), " "))
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mkimage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	src := fs.String("src", "..", "the fedcrypt repository `root` to build the binary from")
	binary := fs.String("binary", "", "use this prebuilt static linux fedcrypt `binary` instead of building one")
	arch := fs.String("arch", "amd64", "target `GOARCH`: amd64 or arm64")
	version := fs.String("version", "", "the version label (default: what the binary's 'version' command prints)")
	revision := fs.String("revision", "", "the source revision label (default: the source's git commit, if any)")
	epoch := fs.Int64("epoch", -1, "creation time in Unix `seconds` (default: $SOURCE_DATE_EPOCH, else the last commit's time, else 0)")
	tag := fs.String("tag", "", "image `name:tag` (default fedcrypt:VERSION)")
	tarPath := fs.String("tarball", "", "write a docker-load/podman-load tarball to this `file`")
	ociDir := fs.String("oci", "", "write an OCI image layout into this new `directory`")
	jsonOut := fs.Bool("json", false, "print one JSON object on stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case *tarPath == "" && *ociDir == "":
		return errors.New("give -tarball FILE, -oci DIR or both")
	}
	bin := *binary
	if bin == "" {
		dir, err := os.MkdirTemp("", "mkimage-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "fedcrypt")
		fmt.Fprintf(stderr, "mkimage: building fedcrypt for linux/%s from %s\n", *arch, *src)
		if err := image.BuildBinary(ctx, *src, *arch, bin); err != nil {
			return err
		}
	}
	if *version == "" {
		v, err := binaryVersion(ctx, bin, *arch)
		if err != nil {
			return err
		}
		*version = v
	}
	if *revision == "" {
		*revision = gitOutput(ctx, *src, "rev-parse", "HEAD")
	}
	created, err := creationTime(ctx, *epoch, *src)
	if err != nil {
		return err
	}
	if *tag == "" {
		*tag = "fedcrypt:" + *version
	}
	img, err := image.Build(image.Config{Binary: bin, Version: *version, Revision: *revision, Arch: *arch, Created: created})
	if err != nil {
		return err
	}
	if *tarPath != "" {
		if err := image.WriteTarball(*tarPath, *tag, img); err != nil {
			return err
		}
	}
	if *ociDir != "" {
		if err := image.WriteLayout(*ociDir, *tag, img); err != nil {
			return err
		}
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	id, err := img.ConfigName()
	if err != nil {
		return err
	}
	res := map[string]string{"tag": *tag, "digest": digest.String(), "image_id": id.String(),
		"created": created.Format(time.RFC3339), "tarball": *tarPath, "oci_layout": *ociDir}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(stdout, "%s\ndigest   %s\nimage ID %s\ncreated  %s\n", *tag, digest, id, res["created"])
	return nil
}

// binaryVersion runs the binary's version command ("fedcrypt 0.1.0-dev")
// and returns the version; it cannot run a binary for another platform.
func binaryVersion(ctx context.Context, bin, arch string) (string, error) {
	if runtime.GOOS != "linux" || runtime.GOARCH != arch {
		return "", fmt.Errorf("cannot run a linux/%s binary here to read its version: give -version", arch)
	}
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		return "", fmt.Errorf("%s version: %w", bin, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || f[0] != "fedcrypt" {
		return "", fmt.Errorf("%s version printed %q, want \"fedcrypt VERSION\"", bin, strings.TrimSpace(string(out)))
	}
	return f[1], nil
}

// creationTime returns the image's fixed creation time: flagEpoch if
// given (≥ 0), else $SOURCE_DATE_EPOCH, else the last commit's time in src,
// else the Unix epoch.
func creationTime(ctx context.Context, flagEpoch int64, src string) (time.Time, error) {
	if flagEpoch >= 0 {
		return time.Unix(flagEpoch, 0).UTC(), nil
	}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want Unix seconds", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	if s := gitOutput(ctx, src, "log", "-1", "--format=%ct"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
			return time.Unix(n, 0).UTC(), nil
		}
	}
	return time.Unix(0, 0).UTC(), nil
}

// gitOutput returns the trimmed output of a git command in dir, or "" when
// git or the repository is missing.
func gitOutput(ctx context.Context, dir string, args ...string) string {
	out, err := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
