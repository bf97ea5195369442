package i18n

import (
	"encoding/json"
	"strings"
)

// Text is a message kept to be shown later, in whatever language the reader has: its key and
// arguments, encoded as a JSON array (["reason.sku_unreadable","[1,2]"]) so that it is stored
// as a plain string. The Webhook, which speaks no language, records Texts (why a line or an
// order cannot be read); the Enroll and Sweep functions render them in LANGUAGE. A Text that
// is not such an array (written before Texts existed) is shown as it is.
type Text string

// Msg is the Text of key with args.
func Msg(key string, args ...string) Text {
	b, _ := json.Marshal(append([]string{key}, args...)) // strings always encode
	return Text(b)
}

// In renders the text in l.
func (t Text) In(l Lang) string {
	key, args, ok := t.decode()
	if !ok {
		return string(t)
	}
	as := make([]any, len(args))
	for i, a := range args {
		as[i] = a
	}
	return l.T(key, as...)
}

func (t Text) decode() (string, []string, bool) {
	if !strings.HasPrefix(string(t), `["`) {
		return "", nil, false
	}
	var parts []string
	if json.Unmarshal([]byte(t), &parts) != nil || len(parts) == 0 {
		return "", nil, false
	}
	if _, ok := Default.Lookup(parts[0]); !ok {
		return "", nil, false
	}
	return parts[0], parts[1:], true
}
