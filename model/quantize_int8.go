package model

import (
	"encoding/binary"
	"fmt"
	"math"
)

// int8RowsVersion is the version of the int8 format with a factor per row of each span of
// several columns; version 1 (weightsVersion) files have none. fedcrypt wrote both before
// [Model.MarshalQuantized] moved to 12-bit values; they are still read:
//
//	version 1: w_jc = s_c·q_jc
//	version 2: w_jc = s_c·r_j·q_jc,  r_j ∈ [0, 1] a float32 per row of a span of several columns
//
// After the config: the parameter count P (uint64), the scales s (float64, in span order), the
// row factors r (version 2), P int8 values q ∈ [−127, 127], then the CRC-32.
const int8RowsVersion = 2

// rows returns the number of row factors of a span in the int8 format of version 2: one per row
// when it has several columns.
func (sp span) rows() int {
	if sp.cols == 1 {
		return 0
	}
	return sp.n / sp.cols
}

// rowFactors returns the number of row factors of the spans.
func rowFactors(spans []span) int {
	n := 0
	for _, sp := range spans {
		n += sp.rows()
	}
	return n
}

// grid returns the quantization step of parameter i of a span whose column scales start at sc
// and row factors at rf.
func (sp span) grid(sc []float64, rf []float64, i int) float64 {
	if sp.cols == 1 {
		return sc[0]
	}
	return sc[i%sp.cols] * rf[i/sp.cols]
}

// decodeInt8 reads the body of an int8 file of version 1 or 2 after its config: P, the scales,
// the row factors (version 2), the values, the checksum; want is the parameter count and sp the
// spans the config implies.
func decodeInt8(b []byte, pos int, version uint16, n uint64, sp []span) ([]float64, error) {
	ns, nr := scales(sp), 0
	if version == int8RowsVersion {
		nr = rowFactors(sp)
	}
	end, err := checkQuantizedFrame(b, pos, 8*ns+4*nr+int(n))
	if err != nil {
		return nil, err
	}
	sc := make([]float64, ns)
	for k := range sc {
		sc[k] = math.Float64frombits(binary.LittleEndian.Uint64(b[pos+8*k:]))
		if !(sc[k] >= 0) || math.IsInf(sc[k], 0) || sc[k] > math.MaxFloat64/128 {
			return nil, fmt.Errorf("model weights: scale %d is not a finite number ≥ 0", k)
		}
	}
	pos += 8 * ns
	rf := make([]float64, rowFactors(sp))
	for k := range rf {
		rf[k] = 1 // version 1: none
		if nr > 0 {
			rf[k] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[pos+4*k:])))
			if !(rf[k] >= 0 && rf[k] <= 1) {
				return nil, fmt.Errorf("model weights: row factor %d is not a number in [0, 1]", k)
			}
		}
	}
	q := b[pos+4*nr : end]
	params := make([]float64, n)
	off, base, row := 0, 0, 0
	for _, s := range sp {
		for i := range s.n {
			params[off+i] = s.grid(sc[base:], rf[row:], i) * float64(int8(q[off+i]))
		}
		off += s.n
		base += s.cols
		row += s.rows()
	}
	return params, nil
}
