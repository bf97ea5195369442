package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// phpJSON encodes v as WordPress's wp_json_encode (PHP json_encode with default flags) writes
// it, trimmed like the webhook body (protocols.md A1):
//   - "/" is written "\/";
//   - every non-ASCII character is written \uXXXX (lower-case hex, UTF-16 surrogate pairs
//     beyond the BMP);
//   - "<", ">", "&" and "'" stay as they are (PHP escapes them only with JSON_HEX_* flags);
//   - no trailing newline.
//
// encoding/json output is post-processed: outside strings it holds only ASCII punctuation,
// digits and literals, so every "/" and every non-ASCII byte is inside a string and can be
// rewritten without tracking string state. Field order is the struct's order, so types that
// mirror WooCommerce's responses declare fields in WooCommerce's order.
func phpJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return phpEscape(bytes.TrimSpace(buf.Bytes())), nil
}

// phpEscape rewrites encoding/json output into PHP's escaping (see phpJSON).
func phpEscape(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/8)
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '/':
			out = append(out, '\\', '/')
			i++
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			i += size
			if r >= 0x10000 {
				r -= 0x10000
				out = fmt.Appendf(out, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
			} else {
				out = fmt.Appendf(out, `\u%04x`, r)
			}
		}
	}
	return out
}

// phpRawURLEncode is PHP's rawurlencode: RFC 3986, everything but A-Z a-z 0-9 - . _ ~ is
// percent-encoded with upper-case hex.
func phpRawURLEncode(s string) string {
	const hexdigits = "0123456789ABCDEF"
	out := make([]byte, 0, len(s)*3)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' {
			out = append(out, c)
			continue
		}
		out = append(out, '%', hexdigits[c>>4], hexdigits[c&15])
	}
	return string(out)
}
