package control

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/fargo-run/fargo/internal/paging"
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

// paginate returns one page of a list of names sorted by themselves (ARNs
// of one kind and cluster sort as their store keys do) and the token of
// the next one. list names the operation its tokens belong to.
func paginate(list string, items []string, p Page) ([]string, string, error) {
	return paginateBy(list, items, func(s string) string { return s }, false, p)
}

// paginateBy returns one page of items in the order of their keys
// (decreasing with desc) and the token of the next one: the key of the
// page's last item (see package paging), so that items added or removed
// between pages neither invalidate the token nor shift the next page.
func paginateBy[T any](list string, items []T, key func(T) string, desc bool, p Page) ([]T, string, error) {
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
	page, next, err := paging.Slice(items, key, paging.Page{List: "ecs." + list, Limit: n, Token: p.Token, Descending: desc})
	if err != nil {
		return nil, "", InvalidParameterf("Invalid nextToken.")
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
