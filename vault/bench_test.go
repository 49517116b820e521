package vault

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"path/filepath"
	"testing"
)

// BenchmarkStream measures streaming encryption and decryption throughput
// (bytes/s via SetBytes) for one X25519 recipient.
func BenchmarkStream(b *testing.B) {
	id := mustIdentity(b)
	for _, size := range []int{64 << 10, 8 << 20} {
		plain := make([]byte, size)
		rand.Read(plain)
		b.Run(fmt.Sprintf("op=encrypt/bytes=%d", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				w, err := Encrypt(io.Discard, id.Recipient())
				if err != nil {
					b.Fatal(err)
				}
				w.Write(plain)
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
		ct, err := EncryptBytes(plain, id.Recipient())
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("op=decrypt/bytes=%d", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				r, err := Decrypt(bytes.NewReader(ct), id)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(ct)-size), "overhead-bytes")
		})
	}
}

// BenchmarkSeal measures a whole sealed-file write (frame, sign, encrypt to
// two recipients, temp file, fsync, rename, directory fsync) and read.
func BenchmarkSeal(b *testing.B) {
	writer, auditor := mustIdentity(b), mustIdentity(b)
	dir := b.TempDir()
	for _, size := range []int{1 << 10, 1 << 20} {
		payload := make([]byte, size)
		rand.Read(payload)
		path := filepath.Join(dir, fmt.Sprintf("s%d.age", size))
		b.Run(fmt.Sprintf("op=seal/bytes=%d", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := Seal(path, "checkpoint", payload, writer.SigningKey(), writer.Recipient(), auditor.Recipient()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("op=unseal/bytes=%d", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Unseal(path, "checkpoint", writer.SigningPublicKey(), auditor); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPassphrase measures opening a passphrase-protected identity file
// at a few scrypt work factors: the cost a user pays per command.
func BenchmarkPassphrase(b *testing.B) {
	id := mustIdentity(b)
	for _, logN := range []int{10, 14, 18} {
		path := filepath.Join(b.TempDir(), "key.age")
		if err := WriteIdentityFile(path, id, []byte("pw"), logN); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("logN=%d", logN), func(b *testing.B) {
			for b.Loop() {
				if _, err := ReadIdentityFile(path, func() ([]byte, error) { return []byte("pw"), nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
