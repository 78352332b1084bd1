package qr

// The error correction codewords are those of a Reed–Solomon code over
// GF(256), built with the primitive polynomial
// x⁸ + x⁴ + x³ + x² + 1 (0x11D) and the generator polynomial
// (x − α⁰)(x − α¹)…(x − αⁿ⁻¹) of n error correction codewords, α being
// 2 (§7.5).

// gfMul multiplies two elements of GF(256): shift and add, reducing by
// the primitive polynomial whenever x⁸ appears.
func gfMul(x, y byte) byte {
	var z byte
	for i := 7; i >= 0; i-- {
		carry := z & 0x80
		z <<= 1
		if carry != 0 {
			z ^= 0x1D // x⁸ = x⁴ + x³ + x² + 1
		}
		if y>>i&1 != 0 {
			z ^= x
		}
	}
	return z
}

// generator returns the coefficients of the generator polynomial of n
// error correction codewords, highest power first, without the leading
// coefficient (always 1).
func generator(n int) []byte {
	g := make([]byte, n)
	g[n-1] = 1 // the polynomial 1
	root := byte(1)
	for range n {
		// Multiply by (x − root); in GF(256), minus is plus.
		for j := range g {
			g[j] = gfMul(g[j], root)
			if j+1 < n {
				g[j] ^= g[j+1]
			}
		}
		root = gfMul(root, 2)
	}
	return g
}

// remainder returns the n error correction codewords of data: the
// remainder of data·xⁿ divided by the generator gen of n codewords.
func remainder(data, gen []byte) []byte {
	r := make([]byte, len(gen))
	for _, b := range data {
		factor := b ^ r[0]
		copy(r, r[1:])
		r[len(r)-1] = 0
		for i, c := range gen {
			r[i] ^= gfMul(c, factor)
		}
	}
	return r
}
