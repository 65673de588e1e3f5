package logs

import "testing"

// FuzzCompile: any filter pattern either compiles or is refused, and a
// compiled one matches any message without a panic.
func FuzzCompile(f *testing.F) {
	for _, s := range [][2]string{
		{"", "x"}, {"ERROR", "an ERROR"}, {`ERROR -"in cache"`, "ERROR in db"}, {"?a ?b", "xbx"},
		{`{ $.level = "error" }`, `{"level":"error"}`}, {`{ $.n > 5 && $.a.b = "x*" }`, `{"n":7,"a":{"b":"xy"}}`},
		{`{ ($.a = 1) || $.b NOT EXISTS }`, `{"a":1}`}, {`{ $.x[0] != "y" }`, `{"x":["z"]}`}, {`{`, ""}, {`"unterminated`, ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, message string) {
		m, err := Compile(pattern)
		if err != nil || m == nil { // nil: no filter, everything matches
			return
		}
		_ = m(message)
	})
}

// FuzzParsePos: any nextToken either parses or is refused with
// InvalidParameterException's message; what parses renders back to a
// token that parses to the same place.
func FuzzParsePos(f *testing.F) {
	for _, s := range []string{formatPos('f', pos{TS: 1, Seq: 2, Idx: 3}), formatPos('b', pos{}), "f/", "", "x/0000000000000000001000000000000000200000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		dir, p, err := parsePos(tok)
		if err != nil {
			return
		}
		dir2, p2, err := parsePos(formatPos(dir, p))
		if err != nil || dir2 != dir || p2 != p {
			t.Fatalf("%q -> %c %+v -> %q -> %c %+v %v", tok, dir, p, formatPos(dir, p), dir2, p2, err)
		}
	})
}
