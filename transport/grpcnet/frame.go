package grpcnet

import (
	"errors"
	"fmt"

	pb "github.com/fedcrypt/fedcrypt/proto/fedcrypt/v1"
)

// ChunkBytes is the largest piece of an envelope one frame carries.
const ChunkBytes = 1 << 20

// frameOverhead bounds a frame's encoding beyond its chunk (field tags,
// lengths, the size and last fields).
const frameOverhead = 64

// DefaultMaxMessageBytes is the default limit on one envelope: 256 MiB, a
// model of several million parameters in ciphertexts with room to spare.
const DefaultMaxMessageBytes = 256 << 20

// ErrTooLarge is returned (wrapped) for an envelope above the size limit,
// on either side.
var ErrTooLarge = errors.New("message exceeds the size limit")

// split cuts msg into frames of at most chunk bytes; the first carries the
// total size, the last is marked.
func split(msg []byte, chunk int) []*pb.Frame {
	n := (len(msg) + chunk - 1) / chunk
	frames := make([]*pb.Frame, 0, n)
	for off := 0; off < len(msg); off += chunk {
		end := min(off+chunk, len(msg))
		frames = append(frames, &pb.Frame{Chunk: msg[off:end]})
	}
	frames[0].Size = uint64(len(msg))
	frames[len(frames)-1].Last = true
	return frames
}

// assembler rebuilds envelopes from frames, refusing any framing that does
// not add up and any envelope above max bytes before buffering it. It is not
// safe for concurrent use.
type assembler struct {
	max  int
	want uint64 // declared size of the envelope being built; 0 = between envelopes
	buf  []byte
}

// add takes the next frame. It returns the envelope the frame completes, or
// nil when more frames are needed. After an error the stream is unusable.
func (a *assembler) add(f *pb.Frame) ([]byte, error) {
	if a.want == 0 {
		switch {
		case f.Size == 0:
			return nil, fmt.Errorf("%w: an envelope's first frame declares no size", errFraming)
		case f.Size > uint64(a.max):
			return nil, fmt.Errorf("%w: %d bytes declared, limit %d", ErrTooLarge, f.Size, a.max)
		}
		a.want = f.Size
		// Grow with what arrives rather than trusting the declared size.
		a.buf = make([]byte, 0, min(f.Size, 2*ChunkBytes))
	} else if f.Size != 0 {
		return nil, fmt.Errorf("%w: size %d declared in the middle of an envelope", errFraming, f.Size)
	}
	if uint64(len(a.buf))+uint64(len(f.Chunk)) > a.want {
		return nil, fmt.Errorf("%w: frames carry more than the %d bytes declared", errFraming, a.want)
	}
	a.buf = append(a.buf, f.Chunk...)
	if !f.Last {
		return nil, nil
	}
	if uint64(len(a.buf)) != a.want {
		return nil, fmt.Errorf("%w: envelope ends after %d of %d bytes declared", errFraming, len(a.buf), a.want)
	}
	msg := a.buf
	a.buf, a.want = nil, 0
	return msg, nil
}

var errFraming = errors.New("bad framing")
