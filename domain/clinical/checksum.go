package clinical

import "hash/crc32"

// The codec's checksum is CRC-32C (Castagnoli), which amd64 and arm64
// compute in hardware. Parts of a payload are summed separately, on
// several cores, and the sums combined into the payload's.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// castagnoliRev is the Castagnoli polynomial bit-reversed, as the table
// driven CRC uses it: bit 31 is the coefficient of x^0.
const castagnoliRev = 0x82f63b78

func checksum(p []byte) uint32 { return crc32.Checksum(p, castagnoli) }

func crc32Update(sum uint32, p []byte) uint32 { return crc32.Update(sum, castagnoli, p) }

// crc32Combine returns the checksum of a followed by b, given a's and b's
// checksums and b's length: a's sum is multiplied by x^(8·lenB) modulo the
// polynomial, and the pre- and post-inversion cancel out in the sum.
func crc32Combine(sumA, sumB uint32, lenB uint64) uint32 {
	if lenB == 0 {
		return sumA
	}
	return gfMul(xPow8n(lenB), sumA) ^ sumB
}

// gfMul multiplies two polynomials modulo the CRC polynomial, both in the
// reversed bit order.
func gfMul(a, b uint32) uint32 {
	var p uint32
	for m := uint32(1) << 31; m != 0 && a != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
			a ^= m
		}
		// b *= x
		if b&1 != 0 {
			b = b>>1 ^ castagnoliRev
		} else {
			b >>= 1
		}
	}
	return p
}

// xPow8n is x^(8n) modulo the polynomial, by repeated squaring.
func xPow8n(n uint64) uint32 {
	p := uint32(1) << 31        // x^0
	sq := uint32(1) << (31 - 8) // x^8: one byte
	for ; n != 0; n >>= 1 {
		if n&1 != 0 {
			p = gfMul(sq, p)
		}
		sq = gfMul(sq, sq)
	}
	return p
}
