package grpcnet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	pb "github.com/fedcrypt/fedcrypt/proto/fedcrypt/v1"
)

func TestAssemblerRefusesBadFraming(t *testing.T) {
	cases := []struct {
		name   string
		frames []*pb.Frame
		want   error
	}{
		{"no size on the first frame", []*pb.Frame{{Chunk: []byte("ab"), Last: true}}, errFraming},
		{"declared size above the limit", []*pb.Frame{{Size: 101, Chunk: []byte("ab")}}, ErrTooLarge},
		{"more bytes than declared", []*pb.Frame{{Size: 3, Chunk: []byte("ab")}, {Chunk: []byte("cd"), Last: true}}, errFraming},
		{"fewer bytes than declared", []*pb.Frame{{Size: 5, Chunk: []byte("ab")}, {Chunk: []byte("cd"), Last: true}}, errFraming},
		{"size in the middle", []*pb.Frame{{Size: 4, Chunk: []byte("ab")}, {Size: 4, Chunk: []byte("cd"), Last: true}}, errFraming},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := assembler{max: 100}
			var err error
			for _, f := range tc.frames {
				var msg []byte
				if msg, err = a.add(f); err != nil {
					break
				}
				if msg != nil {
					t.Fatalf("assembled %q from bad frames", msg)
				}
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzSplitAssemble checks that any message cut into frames of any size is
// rebuilt exactly, twice in a row on one assembler.
func FuzzSplitAssemble(f *testing.F) {
	f.Add([]byte("x"), uint16(1))
	f.Add(bytes.Repeat([]byte("envelope"), 100), uint16(7))
	f.Add(bytes.Repeat([]byte{0}, 4096), uint16(4096))
	f.Fuzz(func(t *testing.T, msg []byte, chunk uint16) {
		if len(msg) == 0 || chunk == 0 {
			return
		}
		a := assembler{max: len(msg)}
		for range 2 {
			frames := split(msg, int(chunk))
			for i, fr := range frames {
				got, err := a.add(fr)
				if err != nil {
					t.Fatalf("frame %d of %d: %v", i+1, len(frames), err)
				}
				if (got != nil) != (i == len(frames)-1) {
					t.Fatalf("frame %d of %d: message completed = %v", i+1, len(frames), got != nil)
				}
				if got != nil && !bytes.Equal(got, msg) {
					t.Fatalf("rebuilt %d bytes differ from the %d sent", len(got), len(msg))
				}
			}
		}
	})
}

// FuzzAssemble feeds arbitrary frames (decoded from the input: 8-byte size,
// 1-byte last flag, 2-byte length, chunk) and checks that the assembler
// never panics, never exceeds its limit, and only returns messages of the
// size their first frame declared.
func FuzzAssemble(f *testing.F) {
	frame := func(size uint64, last bool, chunk string) []byte {
		b := binary.BigEndian.AppendUint64(nil, size)
		if last {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(chunk)))
		return append(b, chunk...)
	}
	f.Add(frame(2, true, "ab"))
	f.Add(append(frame(4, false, "ab"), frame(0, true, "cd")...))
	f.Add(append(frame(4, false, "ab"), frame(4, true, "cd")...))
	f.Add(frame(1000, true, "ab"))
	f.Fuzz(func(t *testing.T, in []byte) {
		const max = 256
		a := assembler{max: max}
		var declared uint64
		for len(in) >= 11 {
			fr := &pb.Frame{Size: binary.BigEndian.Uint64(in), Last: in[8]&1 == 1}
			n := min(int(binary.BigEndian.Uint16(in[9:])), len(in)-11)
			fr.Chunk = in[11 : 11+n]
			in = in[11+n:]
			if a.want == 0 {
				declared = fr.Size
			}
			msg, err := a.add(fr)
			if err != nil {
				return
			}
			if len(a.buf) > max {
				t.Fatalf("buffered %d bytes, limit %d", len(a.buf), max)
			}
			if msg != nil && uint64(len(msg)) != declared {
				t.Fatalf("message of %d bytes, %d declared", len(msg), declared)
			}
		}
	})
}
