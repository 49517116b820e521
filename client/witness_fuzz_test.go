package client

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/fedcrypt/fedcrypt/audit"
	"github.com/fedcrypt/fedcrypt/federation"
)

// FuzzParseWitness feeds arbitrary payloads to the witness decoder: what
// it accepts is a list of heads that advance, and re-encodes to a payload
// that decodes to the same list.
func FuzzParseWitness(f *testing.F) {
	fed := federation.Hash{1, 2, 3}
	head := func(typ string, round, entries uint64) audit.Witness {
		return audit.Witness{Hospital: "h1", Signature: bytes.Repeat([]byte{byte(entries)}, 64),
			Head: audit.Head{Config: fed, Type: typ, Round: round, Entries: entries, Hash: [32]byte{byte(entries)}}}
	}
	lists := [][]audit.Witness{
		nil,
		{head(audit.TypeRound, 1, 2)},
		{head(audit.TypeRound, 1, 2), head(audit.TypeRoundAbandoned, 2, 3), head(audit.TypeRound, 2, 4), head(audit.TypeEnd, 2, 5)},
		{head(audit.TypeRound, 2, 3), head(audit.TypeRound, 1, 4)}, // rewound: refused
	}
	for _, ws := range lists {
		b, err := marshalWitness("h1", fed, ws)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"hospital":"h2"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ws, err := parseWitness(b, "h1", fed)
		if err != nil {
			return
		}
		for i := 1; i < len(ws); i++ {
			if ws[i].Head.Entries <= ws[i-1].Head.Entries {
				t.Fatalf("head %d of entry %d after entry %d", i+1, ws[i].Head.Entries, ws[i-1].Head.Entries)
			}
		}
		again, err := marshalWitness("h1", fed, ws)
		if err != nil {
			t.Fatal(err)
		}
		ws2, err := parseWitness(again, "h1", fed)
		if err != nil || !reflect.DeepEqual(ws, ws2) {
			t.Fatalf("re-encoded witness: %v", err)
		}
	})
}
