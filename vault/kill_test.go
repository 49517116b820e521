package vault

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const killHelperEnv = "FEDCRYPT_VAULT_KILL_HELPER_DIR"

// TestKilledSealHelper is not a test on its own: run by
// TestSealKilledBeforeRename in a child process, it seals a new version of
// DIR/ledger.age and stops, announcing itself, between the complete
// temporary file and the rename, where the parent kills it with SIGKILL.
func TestKilledSealHelper(t *testing.T) {
	dir := os.Getenv(killHelperEnv)
	if dir == "" {
		t.Skip("helper process for TestSealKilledBeforeRename")
	}
	id, err := ReadIdentityFile(filepath.Join(dir, "key.txt"), nil)
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(3)
	}
	testHookBeforeRename = func(tmp, dst string) {
		fmt.Printf("READY %s\n", tmp)
		os.Stdout.Sync()
		time.Sleep(time.Hour) // killed here
	}
	err = Seal(filepath.Join(dir, "ledger.age"), "ledger", []byte("version 2: canary-kill-3f9a"), id.SigningKey(), id.Recipient())
	fmt.Println("ERROR rename was reached:", err)
	os.Exit(3)
}

func TestSealKilledBeforeRename(t *testing.T) {
	dir := t.TempDir()
	id := mustIdentity(t)
	if err := WriteIdentityFile(filepath.Join(dir, "key.txt"), id, nil, 0); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ledger.age")
	if err := Seal(path, "ledger", []byte("version 1"), id.SigningKey(), id.Recipient()); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledSealHelper$", "-test.v=false")
	cmd.Env = append(os.Environ(), killHelperEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "READY ") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper did not reach the rename: %q, %v", line, err)
	}
	tmp := strings.TrimSpace(strings.TrimPrefix(line, "READY "))
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred cleanup runs
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("helper exit: %v, want killed", err)
	}

	got, err := Unseal(path, "ledger", id.SigningPublicKey(), id)
	if err != nil || string(got) != "version 1" {
		t.Fatalf("after the kill the old sealed file gives %q, %v; want version 1", got, err)
	}
	// The complete new version was left beside it, encrypted: the plaintext
	// never reached the disk.
	raw, err := os.ReadFile(tmp)
	if err != nil {
		t.Fatalf("the killed write's temporary file: %v", err)
	}
	if !bytes.HasPrefix(raw, []byte(ageMagic)) || bytes.Contains(raw, []byte("canary-kill-3f9a")) {
		t.Error("the temporary file is not an age file")
	}
	if filepath.Dir(tmp) != dir {
		t.Errorf("temporary file %s is not in the destination's directory", tmp)
	}
	// A later seal succeeds over the debris.
	if err := Seal(path, "ledger", []byte("version 3"), id.SigningKey(), id.Recipient()); err != nil {
		t.Fatal(err)
	}
	if got, err := Unseal(path, "ledger", id.SigningPublicKey(), id); err != nil || string(got) != "version 3" {
		t.Fatalf("seal after the crash: %q, %v", got, err)
	}
}
