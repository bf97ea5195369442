package woocommerce

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// OAuth 1.0a one-legged signing, as WooCommerce requires on plain-http shops
// (WC:includes/class-wc-rest-authentication.php, perform_oauth_authentication and
// check_oauth_signature; protocols.md B).
//
// What WooCommerce does, and so what this signs:
//   - parameters: every query parameter (PHP's $_GET, then $_POST, then an "OAuth" Authorization
//     header, merged) except oauth_signature; the client sends only query parameters and a JSON
//     body, which PHP does not put in $_POST.
//   - parameters are sorted by their decoded key with strcmp (byte order), then key and value
//     are each encoded with rawurlencode (RFC 3986: only A-Z a-z 0-9 - . _ ~ stay), joined as
//     key=value, and each pair is encoded again; pairs are joined with "%26". That equals
//     RFC 5849's encode(join("&", encode(k)=encode(v))).
//   - base string: METHOD & rawurlencode(home URL with the request path) & pairs.
//   - key: consumer_secret + "&" (no token); HMAC-SHA1 or HMAC-SHA256; the signature is standard
//     base64.
//   - timestamps must be within 15 minutes of the shop's clock and nonces are single-use.
const oauthSignatureMethod = "HMAC-SHA256"

// oauthParams returns q plus the oauth_* parameters of a signed request of method to endpoint
// (scheme://host/path, no query). q is not modified.
func oauthParams(method string, endpoint *url.URL, q url.Values, key, secret string, now time.Time, nonce string) url.Values {
	out := url.Values{}
	for k, vs := range q {
		out[k] = append([]string(nil), vs...)
	}
	out.Set("oauth_consumer_key", key)
	out.Set("oauth_nonce", nonce)
	out.Set("oauth_signature_method", oauthSignatureMethod)
	out.Set("oauth_timestamp", strconv.FormatInt(now.Unix(), 10))
	out.Del("oauth_signature")
	base := oauthBaseString(method, endpoint, out)
	mac := hmac.New(sha256.New, []byte(secret+"&"))
	mac.Write([]byte(base))
	out.Set("oauth_signature", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return out
}

// oauthBaseString is the RFC 5849 §3.4.1 signature base string as WooCommerce computes it. PHP
// keeps one value per key (the last), so only the last value of a repeated key is signed; the
// client never repeats keys.
func oauthBaseString(method string, endpoint *url.URL, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys) // strcmp order of the decoded keys, as uksort( $params, 'strcmp' )
	pairs := make([]string, 0, len(keys))
	for _, k := range keys {
		vs := params[k]
		v := ""
		if len(vs) > 0 {
			v = vs[len(vs)-1]
		}
		pairs = append(pairs, rfc3986(rfc3986(k)+"="+rfc3986(v)))
	}
	u := endpoint.Scheme + "://" + endpoint.Host + endpoint.EscapedPath()
	return strings.ToUpper(method) + "&" + rfc3986(u) + "&" + strings.Join(pairs, "%26")
}

// rfc3986 percent-encodes s like PHP's rawurlencode: everything but unreserved characters,
// upper-case hex.
func rfc3986(s string) string {
	const hexdigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdigits[c>>4])
		b.WriteByte(hexdigits[c&15])
	}
	return b.String()
}

// newNonce returns 32 random hex characters (WooCommerce documents a 32-character nonce).
func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
