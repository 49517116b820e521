package helm

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fedcrypt/fedcrypt/deploy/image"
)

// TestBinaryAnswersProbes runs the real aggregator as the chart does, with
// --metrics, and checks the paths the chart's liveness and readiness probes
// ask for: Kubernetes' gRPC probes cannot speak mutual TLS, so the probes
// are HTTP on the metrics listener.
func TestBinaryAnswersProbes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the fedcrypt binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "fedcrypt")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := image.BuildBinary(ctx, "../..", "amd64", bin); err != nil {
		t.Fatal(err)
	}
	initCmd := exec.CommandContext(ctx, bin, "init", "--members", "a,b,c", "--threshold", "2", "-o", "fed")
	initCmd.Dir = dir
	if out, err := initCmd.CombinedOutput(); err != nil {
		t.Fatalf("fedcrypt init: %v: %s", err, out)
	}
	serve := exec.CommandContext(ctx, bin, "aggregator", "serve", "--config", "fed/federation.json",
		"--identity", "fed/aggregator/identity.key", "--listen", "127.0.0.1:0", "-o", "out",
		"--metrics", "127.0.0.1:0", "--timeout", "2m")
	serve.Dir = dir
	stderr, err := serve.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		serve.Process.Signal(syscall.SIGTERM)
		serve.Wait()
	}()
	metricsRE := regexp.MustCompile(`metrics on (http://\S+)/metrics$`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := metricsRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	var base string
	select {
	case base = <-found:
	case <-time.After(time.Minute):
		t.Fatal("aggregator serve printed no metrics address within a minute")
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			resp, err := http.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
				t.Errorf("GET %s: %d %q, want 200 \"ok\" while the aggregator waits for members", path, resp.StatusCode, body)
			}
		})
	}
	resp, err := http.Get(base + "/nothing-here")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nothing-here: %d, want 404 (the probes must not answer every path)", resp.StatusCode)
	}
}
