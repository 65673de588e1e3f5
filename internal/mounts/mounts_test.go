package mounts

import "testing"

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`/plain`:             "/plain",
		`/a\040b`:            "/a b",
		`/tab\011x\134y`:     "/tab\tx\\y",
		`/short\04`:          `/short\04`,
		`/end\`:              `/end\`,
		`/not\999octal\040z`: `/not\999octal z`,
	} {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}
