// Package paging makes and reads the opaque nextToken of fargo's list
// operations. A token names the sort key of the last item a page returned,
// never an offset, so it stays valid while the list changes between pages
// (as AWS's do): the next page starts after that key wherever it now lies,
// an item present throughout is returned exactly once, and an item added or
// removed in between moves nothing else.
//
// A token is the unpadded base64url of a small versioned JSON document
// {"v":1,"l":list,"a":key}. It is decoded strictly: anything that is not a
// token this version wrote for the same list (garbage, a token of another
// operation, unknown fields, trailing bytes) is ErrInvalid, which each API
// maps to its service's own "invalid nextToken" error.
package paging

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// ErrInvalid is the error of a token that does not decode.
var ErrInvalid = errors.New("invalid page token")

// MaxTokenLen bounds the tokens Decode reads: keys are names and ARNs.
const MaxTokenLen = 8 << 10

const version = 1

type token struct {
	V int             `json:"v"`
	L string          `json:"l"`
	A json.RawMessage `json:"a"`
}

// Encode makes the token of the position after key in the list named list
// (the operation, such as "ecs.ListTasks"). key is any JSON value.
func Encode(list string, key any) string {
	a, err := json.Marshal(key)
	if err != nil {
		panic(fmt.Sprintf("paging: key of %s: %v", list, err)) // keys are plain data
	}
	b, _ := json.Marshal(token{V: version, L: list, A: a})
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode reads a token Encode made for list into key (a pointer), or fails
// with ErrInvalid.
func Decode(list, tok string, key any) error {
	if len(tok) == 0 || len(tok) > MaxTokenLen {
		return ErrInvalid
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil {
		return ErrInvalid
	}
	var t token
	if strictJSON(b, &t) != nil || t.V != version || t.L != list || len(t.A) == 0 || strictJSON(t.A, key) != nil {
		return ErrInvalid
	}
	return nil
}

// strictJSON decodes exactly one JSON value with no unknown fields.
func strictJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return ErrInvalid
	}
	return nil
}

// Page is one page of a list sorted by a string key.
type Page struct {
	// List names the list (the operation) the tokens belong to.
	List string
	// Limit is the page size (at least 1).
	Limit int
	// Token is the caller's nextToken ("" for the first page).
	Token string
	// Descending lists the items in decreasing key order.
	Descending bool
}

// Slice returns the page of items p asks for, in key order, and the token
// of the next page ("" after the last). key must be unique per item; items
// are sorted here, so callers may pass them in any order. It fails with
// ErrInvalid for a token that does not decode.
func Slice[T any](items []T, key func(T) string, p Page) ([]T, string, error) {
	compare := func(a, b string) int {
		if p.Descending {
			return strings.Compare(b, a)
		}
		return strings.Compare(a, b)
	}
	sorted := slices.Clone(items)
	slices.SortStableFunc(sorted, func(a, b T) int { return compare(key(a), key(b)) })
	if p.Token != "" {
		var after string
		if err := Decode(p.List, p.Token, &after); err != nil {
			return nil, "", err
		}
		i, _ := slices.BinarySearchFunc(sorted, after, func(it T, k string) int { return compare(key(it), k) })
		for i < len(sorted) && compare(key(sorted[i]), after) <= 0 {
			i++
		}
		sorted = sorted[i:]
	}
	limit := max(p.Limit, 1)
	if len(sorted) <= limit {
		return sorted, "", nil
	}
	page := sorted[:limit]
	return page, Encode(p.List, key(page[limit-1])), nil
}

// Int is a key for an integer that sorts as the integer does.
func Int(n int64) string {
	return fmt.Sprintf("%020d", uint64(n)^(1<<63))
}

// Time is a key for a time that sorts as times do (to the nanosecond).
func Time(t time.Time) string {
	return Int(t.Unix()) + fmt.Sprintf("%09d", t.Nanosecond())
}

// Join makes one key of several, sorting by the first part, then the next:
// the parts must not contain NUL.
func Join(parts ...string) string { return strings.Join(parts, "\x00") }

// Desc is a key that sorts in the reverse order of an Int or Time key,
// for one part of a Join sorted the other way.
func Desc(key string) string {
	b := []byte(key)
	for i, c := range b {
		if c >= '0' && c <= '9' {
			b[i] = '9' - (c - '0')
		}
	}
	return string(b)
}
