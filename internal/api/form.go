package api

import (
	"context"
	"encoding"
	"reflect"
	"strconv"
	"strings"
)

// Query adapts a typed operation to an awsQuery Handler: it decodes the
// form parameters (Action=...&Name=v&List.member.1=v&List.member.2.Key=v)
// into a fresh In by the xml tags of the generated wire types, the naming
// awsQuery uses: a member is its tag name, a list tagged "Name>member" is
// Name.member.N (N from 1), a nested structure is Name.Member. A value
// that is not of its member's type is an InvalidParameterValue error.
func Query[In, Out any](f func(ctx context.Context, req *Request, in *In) (*Out, error)) Handler {
	return func(ctx context.Context, req *Request) (any, error) {
		in := new(In)
		if err := DecodeForm(req.Form, in); err != nil {
			return nil, err
		}
		out, err := f(ctx, req, in)
		if err != nil {
			return nil, err
		}
		if out == nil {
			return struct{}{}, nil
		}
		return out, nil
	}
}

// maxFormListLen bounds a list's index: no AWS query list comes near it,
// and a sparse member.999999999 must not make the decoder loop.
const maxFormListLen = 10000

// DecodeForm decodes awsQuery parameters into v, a pointer to a struct.
func DecodeForm(form map[string][]string, v any) error {
	d := formDecoder{form: form, prefixes: make(map[string]int, len(form)*2)}
	for k := range form {
		// Every dotted prefix of a key, so a list decoder knows whether
		// element N exists without scanning the form again.
		for i := 0; i < len(k); i++ {
			if k[i] == '.' {
				d.prefixes[k[:i]]++
			}
		}
		d.prefixes[k]++
	}
	return d.decodeStruct("", reflect.ValueOf(v).Elem())
}

type formDecoder struct {
	form     map[string][]string
	prefixes map[string]int
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func (d *formDecoder) decodeStruct(prefix string, v reflect.Value) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("xml")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if outer, inner, list := strings.Cut(name, ">"); list {
			if err := d.decodeList(join(join(prefix, outer), inner), v.Field(i)); err != nil {
				return err
			}
			continue
		}
		key := join(prefix, name)
		if d.prefixes[key] == 0 {
			continue
		}
		if err := d.decodeValue(key, v.Field(i)); err != nil {
			return err
		}
	}
	return nil
}

func (d *formDecoder) decodeList(prefix string, v reflect.Value) error {
	if v.Kind() != reflect.Slice {
		return nil
	}
	n := 0
	for n < maxFormListLen && d.prefixes[prefix+"."+strconv.Itoa(n+1)] > 0 {
		n++
	}
	if n == 0 {
		return nil
	}
	s := reflect.MakeSlice(v.Type(), n, n)
	for i := 0; i < n; i++ {
		if err := d.decodeValue(prefix+"."+strconv.Itoa(i+1), s.Index(i)); err != nil {
			return err
		}
	}
	v.Set(s)
	return nil
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

func (d *formDecoder) decodeValue(key string, v reflect.Value) error {
	if v.Kind() == reflect.Pointer {
		elem := reflect.New(v.Type().Elem())
		if err := d.decodeValue(key, elem.Elem()); err != nil {
			return err
		}
		v.Set(elem)
		return nil
	}
	if reflect.PointerTo(v.Type()).Implements(textUnmarshaler) {
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(d.get(key))); err != nil {
			return badForm(key, d.get(key))
		}
		return nil
	}
	s := d.get(key)
	switch v.Kind() {
	case reflect.Struct:
		return d.decodeStruct(key, v)
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return badForm(key, s)
		}
		v.SetBool(b)
	case reflect.Int32, reflect.Int64, reflect.Int:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return badForm(key, s)
		}
		v.SetInt(n)
	case reflect.Float64, reflect.Float32:
		f, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil && !isRangeErr(err) {
			return badForm(key, s)
		}
		v.SetFloat(f)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 { // blob: base64, unused by query services fargo serves
			v.SetBytes([]byte(s))
		}
	}
	return nil
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func (d *formDecoder) get(key string) string {
	if vs := d.form[key]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

func badForm(key, value string) *Error {
	if len(value) > 64 {
		value = value[:64]
	}
	return Errorf("InvalidParameterValue", "Value (%s) for parameter %s is invalid.", sanitizeTarget(value), sanitizeTarget(key))
}
