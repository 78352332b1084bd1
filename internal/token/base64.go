package token

// decodeMap maps each byte of the base64url alphabet to its value and
// every other byte to 0xff.
var decodeMap = func() (m [256]byte) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range m {
		m[i] = 0xff
	}
	for i := range len(alphabet) {
		m[alphabet[i]] = byte(i)
	}
	return m
}()

// decode decodes s, unpadded base64url, into dst and returns the number of
// bytes written. It refuses, returning false, any byte outside the
// base64url alphabet (padding and line breaks included), a length no
// encoding has, unused trailing bits that are not zero, and output that
// does not fit in dst: every byte string has exactly one accepted encoding.
func decode(dst []byte, s string) (int, bool) {
	if len(s)%4 == 1 || len(s)/4*3+max(len(s)%4-1, 0) > len(dst) {
		return 0, false
	}
	n := 0
	for ; len(s) >= 4; s = s[4:] {
		a, b, c, d := decodeMap[s[0]], decodeMap[s[1]], decodeMap[s[2]], decodeMap[s[3]]
		if (a|b|c|d)&0xc0 != 0 {
			return 0, false
		}
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		_ = dst[n+2]
		dst[n], dst[n+1], dst[n+2] = byte(v>>16), byte(v>>8), byte(v)
		n += 3
	}
	switch len(s) {
	case 2:
		a, b := decodeMap[s[0]], decodeMap[s[1]]
		if (a|b)&0xc0 != 0 || b&0x0f != 0 {
			return 0, false
		}
		dst[n] = a<<2 | b>>4
		n++
	case 3:
		a, b, c := decodeMap[s[0]], decodeMap[s[1]], decodeMap[s[2]]
		if (a|b|c)&0xc0 != 0 || c&0x03 != 0 {
			return 0, false
		}
		v := uint32(a)<<12 | uint32(b)<<6 | uint32(c)
		dst[n], dst[n+1] = byte(v>>10), byte(v>>2)
		n += 2
	}
	return n, true
}
