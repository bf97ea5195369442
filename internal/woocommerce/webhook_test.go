package woocommerce

import (
	"net/http"
	"testing"
)

func TestVerifySource(t *testing.T) {
	t.Parallel()
	v, err := NewVerifier("secret", "https://Shop.Example.com")
	if err != nil {
		t.Fatal(err)
	}
	for src, want := range map[string]bool{
		"https://shop.example.com/":            true,
		"https://SHOP.EXAMPLE.COM":             true,
		"HTTPS://shop.example.com/":            true,
		"https://shop.example.com/shop":        false,
		"http://shop.example.com/":             false,
		"https://shop.example.org/":            false,
		"https://evil.com/?x=shop.example.com": false,
		"":                                     false,
	} {
		h := http.Header{}
		h.Set(HeaderSource, src)
		if got := v.VerifySource(h) == nil; got != want {
			t.Errorf("source %q accepted=%v, want %v", src, got, want)
		}
	}
	sub, _ := NewVerifier("secret", "https://example.com/shop/")
	h := http.Header{}
	h.Set(HeaderSource, "https://EXAMPLE.com/shop")
	if sub.VerifySource(h) != nil {
		t.Error("a shop in a subfolder: the trailing slash should not matter")
	}
}
