// Package jsonx appends JSON values to a byte slice exactly as encoding/json.Marshal writes them, for the few
// hot responses (a page of history) where encoding/json's reflection and its copy of every Marshaler's output
// are a visible share of a request's CPU. A type writes itself with these (an AppendJSON method) and a test of
// that type proves its output byte for byte equal to json.Marshal's; everything else keeps encoding/json.
package jsonx

import (
	"strconv"
	"time"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// safe reports the ASCII bytes json.Marshal writes as they are: printable, and neither a quote, a backslash
// nor one of <, > and & (Marshal escapes those three so that JSON can be embedded in HTML).
var safe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = true
	}
	for _, b := range `"\<>&` {
		t[b] = false
	}
	return t
}()

// AppendString appends s as a JSON string, escaped as json.Marshal escapes it: \" \\ \b \f \n \r \t, other
// control characters and <, >, & as \u00XX, U+2028 and U+2029 as \u2028 and \u2029 (they end lines in
// JavaScript), and each byte that is not part of valid UTF-8 as \ufffd.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendInt64String appends n as a JSON string of its decimal digits, as the ",string" option of a field's
// tag writes it ("42"): how the API writes ids.
func AppendInt64String(dst []byte, n int64) []byte {
	dst = append(dst, '"')
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, '"')
}

// AppendTime appends t as time.Time.MarshalJSON does: a JSON string in RFC 3339 with as many fractional
// digits as needed. MarshalJSON refuses years outside 0 to 9999 (json.Marshal then fails); the times given
// here (stored timestamps) are always within them.
func AppendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}
