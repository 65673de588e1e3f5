package elbv2

import (
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/fargo-run/fargo/internal/api"
	"github.com/fargo-run/fargo/internal/api/wire"
)

// maxListMembers bounds the index of a list member (Targets.member.N):
// no ELBv2 list is longer, and it keeps a form from making fargo
// allocate a huge slice.
const maxListMembers = 1000

// decodeForm fills v (a pointer to a generated input struct) from an
// awsQuery form: scalars are Name=value, structures Name.Member=value,
// lists Name.member.N (1-based) and Name.member.N.Member.
func decodeForm(form url.Values, v any) error {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	d := formDecoder{form: form, keys: keys}
	return d.structure("", reflect.ValueOf(v).Elem())
}

type formDecoder struct {
	form url.Values
	keys []string
}

// hasPrefix reports whether a key starts with p.
func (d *formDecoder) hasPrefix(p string) bool {
	i := sort.SearchStrings(d.keys, p)
	return i < len(d.keys) && strings.HasPrefix(d.keys[i], p)
}

// withPrefix returns the keys that start with p.
func (d *formDecoder) withPrefix(p string) []string {
	i := sort.SearchStrings(d.keys, p)
	j := i
	for j < len(d.keys) && strings.HasPrefix(d.keys[j], p) {
		j++
	}
	return d.keys[i:j]
}

func (d *formDecoder) structure(pfx string, v reflect.Value) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("xml")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || name == "" {
			continue
		}
		name, wrapped := strings.CutSuffix(name, ">member")
		key := pfx + name
		fv := v.Field(i)
		switch {
		case wrapped && fv.Kind() == reflect.Slice:
			if err := d.list(key, fv); err != nil {
				return err
			}
		case fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.Struct && fv.Type().Elem() != reflect.TypeOf(wire.Timestamp{}):
			if !d.hasPrefix(key + ".") {
				continue
			}
			nv := reflect.New(fv.Type().Elem())
			if err := d.structure(key+".", nv.Elem()); err != nil {
				return err
			}
			fv.Set(nv)
		case fv.Kind() == reflect.Pointer:
			vals, ok := d.form[key]
			if !ok || len(vals) == 0 {
				continue
			}
			nv := reflect.New(fv.Type().Elem())
			if err := scalar(key, vals[0], nv); err != nil {
				return err
			}
			fv.Set(nv)
		}
	}
	return nil
}

func (d *formDecoder) list(key string, fv reflect.Value) error {
	mp := key + ".member."
	keys := d.withPrefix(mp)
	if len(keys) == 0 {
		if _, ok := d.form[key]; ok {
			fv.Set(reflect.MakeSlice(fv.Type(), 0, 0)) // Name= : an empty list
		}
		return nil
	}
	n := 0
	for _, k := range keys {
		idx, _, _ := strings.Cut(k[len(mp):], ".")
		i, err := strconv.Atoi(idx)
		if err != nil || i < 1 || i > maxListMembers {
			return api.Errorf("ValidationError", "The parameter %s is not a valid list member (members are numbered 1 to %d).", k, maxListMembers)
		}
		n = max(n, i)
	}
	out := reflect.MakeSlice(fv.Type(), n, n)
	et := fv.Type().Elem()
	for i := 1; i <= n; i++ {
		ek := mp + strconv.Itoa(i)
		ev := out.Index(i - 1)
		switch et.Kind() {
		case reflect.Struct:
			if err := d.structure(ek+".", ev); err != nil {
				return err
			}
		case reflect.String:
			vals, ok := d.form[ek]
			if !ok {
				return api.Errorf("ValidationError", "The list %s misses member %d.", key, i)
			}
			ev.SetString(vals[0])
		}
	}
	fv.Set(out)
	return nil
}

// scalar parses a value into nv (a pointer to the scalar type).
func scalar(key, s string, nv reflect.Value) error {
	bad := func(want string) error {
		return api.Errorf("ValidationError", "Value '%s' for parameter %s is invalid: it must be %s.", truncate(s), key, want)
	}
	e := nv.Elem()
	switch e.Interface().(type) {
	case string:
		e.SetString(s)
	case int32, int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, e.Type().Bits())
		if err != nil {
			return bad("an integer")
		}
		e.SetInt(n)
	case float32, float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), e.Type().Bits())
		if err != nil {
			return bad("a number")
		}
		e.SetFloat(f)
	case bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return bad("true or false")
		}
		e.SetBool(b)
	case wire.Timestamp:
		var ts wire.Timestamp
		if err := ts.UnmarshalText([]byte(s)); err != nil {
			return bad("an ISO 8601 timestamp")
		}
		e.Set(reflect.ValueOf(ts))
	default:
		return bad("a supported value")
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
