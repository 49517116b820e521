package vault

import (
	"fmt"
	"strings"

	"filippo.io/age"
)

// DeriveIdentity returns the X25519 identity whose secret scalar is
// secret. It is for simulations run under a seed, whose every key must
// repeat with the seed (and is as predictable as the seed); a real
// party's identity comes from [GenerateIdentity], which draws from the
// operating system.
func DeriveIdentity(secret [32]byte) (*Identity, error) {
	k, err := age.ParseX25519Identity(bech32Encode("AGE-SECRET-KEY-", secret[:]))
	if err != nil {
		return nil, fmt.Errorf("vault: derive identity: %w", err)
	}
	return newIdentity([]age.Identity{k}, []string{k.String()},
		[]Recipient{{r: k.Recipient(), kind: kindX25519, text: k.Recipient().String()}}), nil
}

// bech32Encode encodes data under the human-readable part hrp as Bech32
// (BIP-173: 5-bit groups, the BCH checksum over the expanded hrp and the
// data), in hrp's case: upper case for age's secret keys.
func bech32Encode(hrp string, data []byte) string {
	const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	lower := strings.ToLower(hrp)
	// Regroup the bytes into 5-bit values, padding the last with zeros.
	var values []byte
	acc, bits := 0, 0
	for _, b := range data {
		acc = acc<<8 | int(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			values = append(values, byte(acc>>bits)&31)
		}
	}
	if bits > 0 {
		values = append(values, byte(acc<<(5-bits))&31)
	}
	// The checksum: the BCH code's remainder over hrp's high bits, a zero,
	// hrp's low bits, the data and six zeros, xored with 1.
	polymod := func(vs []byte) uint32 {
		gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
		chk := uint32(1)
		for _, v := range vs {
			top := chk >> 25
			chk = (chk&0x1ffffff)<<5 ^ uint32(v)
			for i := range gen {
				if (top>>i)&1 == 1 {
					chk ^= gen[i]
				}
			}
		}
		return chk
	}
	var expanded []byte
	for i := 0; i < len(lower); i++ {
		expanded = append(expanded, lower[i]>>5)
	}
	expanded = append(expanded, 0)
	for i := 0; i < len(lower); i++ {
		expanded = append(expanded, lower[i]&31)
	}
	mod := polymod(append(append(expanded, values...), 0, 0, 0, 0, 0, 0)) ^ 1
	var out strings.Builder
	out.WriteString(lower)
	out.WriteByte('1')
	for _, v := range values {
		out.WriteByte(charset[v])
	}
	for i := 0; i < 6; i++ {
		out.WriteByte(charset[(mod>>(5*(5-i)))&31])
	}
	if hrp != lower {
		return strings.ToUpper(out.String())
	}
	return out.String()
}
