package vault_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/fedcrypt/fedcrypt/vault"
)

// A hospital seals a checkpoint to itself and its auditor; the auditor opens
// it and checks that the hospital wrote it.
func Example() {
	dir, err := os.MkdirTemp("", "vault-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	hospital, err := vault.GenerateIdentity()
	if err != nil {
		log.Fatal(err)
	}
	auditor, err := vault.GenerateIdentity()
	if err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(dir, "checkpoint.age")
	err = vault.Seal(path, "checkpoint", []byte("round 7 weights"), hospital.SigningKey(),
		hospital.Recipient(), auditor.Recipient())
	if err != nil {
		log.Fatal(err)
	}

	payload, err := vault.Unseal(path, "checkpoint", hospital.SigningPublicKey(), auditor)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", payload)

	// The same file presented as written by the auditor is refused.
	_, err = vault.Unseal(path, "checkpoint", auditor.SigningPublicKey(), auditor)
	fmt.Println(err != nil)
	// Output:
	// round 7 weights
	// true
}

// A secret for one member travels through a relay that cannot read it.
func ExampleEncryptBytes() {
	member, err := vault.GenerateIdentity()
	if err != nil {
		log.Fatal(err)
	}
	ct, err := vault.EncryptBytes([]byte("threshold share"), member.Recipient())
	if err != nil {
		log.Fatal(err)
	}
	pt, err := vault.DecryptBytes(ct, member)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", pt)
	// Output: threshold share
}
