package control

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/fargo-run/fargo/internal/store"
)

// Page asks for one page of a list: at most MaxResults items (0: the
// operation's default) after the position Token names.
type Page struct {
	MaxResults int
	Token      string
	// Default and Max are the operation's page sizes (default 100/100).
	Default, Max int
}

// pageToken is the opaque nextToken: the offset into the sorted result and
// a fingerprint of the item found there, so a token cannot be replayed
// against a different list.
type pageToken struct {
	Offset int    `json:"o"`
	Item   string `json:"i"`
}

// paginate returns one page of items and the token of the next one.
func paginate(items []string, p Page) ([]string, string, error) {
	def, max := p.Default, p.Max
	if def == 0 {
		def = 100
	}
	if max == 0 {
		max = 100
	}
	n := p.MaxResults
	if n == 0 {
		n = def
	}
	if n < 1 || n > max {
		return nil, "", InvalidParameterf("maxResults must be between 1 and %d.", max)
	}
	start := 0
	if p.Token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(p.Token)
		var t pageToken
		if err == nil {
			err = json.Unmarshal(raw, &t)
		}
		if err != nil || t.Offset < 0 || t.Offset > len(items) || (t.Offset < len(items) && items[t.Offset] != t.Item) {
			return nil, "", InvalidParameterf("Invalid nextToken.")
		}
		start = t.Offset
	}
	end := min(start+n, len(items))
	page := items[start:end]
	next := ""
	if end < len(items) {
		b, _ := json.Marshal(pageToken{Offset: end, Item: items[end]})
		next = base64.RawURLEncoding.EncodeToString(b)
	}
	return page, next, nil
}

// decode decodes a record read outside a transaction.
func decode[T any](kv store.KV) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(kv.Value, v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", kv.Key, err)
	}
	return v, nil
}

func revKey(rev int) string {
	s := strconv.Itoa(rev)
	for len(s) < 10 {
		s = "0" + s
	}
	return s
}
