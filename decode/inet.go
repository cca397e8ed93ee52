package decode

import "strconv"

// appendIPv4 appends the 4 bytes of b as 1.2.3.4.
func appendIPv4(dst, b []byte) []byte {
	_ = b[3]
	for i := range 4 {
		if i > 0 {
			dst = append(dst, '.')
		}
		dst = strconv.AppendUint(dst, uint64(b[i]), 10)
	}
	return dst
}

// appendIPv6 appends the 16 bytes of b as an IPv6 address in RFC 5952
// text, as net/netip prints it: lower-case hex groups without leading
// zeros, the first longest run of two or more zero groups as ::, and
// IPv4-mapped addresses as ::ffff:1.2.3.4.
func appendIPv6(dst, b []byte) []byte {
	_ = b[15]
	if isV4Mapped(b) {
		dst = append(dst, "::ffff:"...)
		return appendIPv4(dst, b[12:16])
	}
	// The first longest run of zero groups, if at least 2 long.
	zs, ze := -1, -1
	for i := 0; i < 8; {
		if b[2*i] != 0 || b[2*i+1] != 0 {
			i++
			continue
		}
		j := i
		for j < 8 && b[2*j] == 0 && b[2*j+1] == 0 {
			j++
		}
		if j-i >= 2 && j-i > ze-zs {
			zs, ze = i, j
		}
		i = j
	}
	for i := 0; i < 8; i++ {
		if i == zs {
			dst = append(dst, ':', ':')
			i = ze - 1
			continue
		}
		if i > 0 && i != ze {
			dst = append(dst, ':')
		}
		g := uint64(b[2*i])<<8 | uint64(b[2*i+1])
		dst = strconv.AppendUint(dst, g, 16)
	}
	return dst
}

func isV4Mapped(b []byte) bool {
	for _, c := range b[:10] {
		if c != 0 {
			return false
		}
	}
	return b[10] == 0xff && b[11] == 0xff
}
