package cli

import (
	"flag"
	"io"
	"testing"
	"time"
)

func TestDurationFlag(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     string
		args    []string
		want    time.Duration
		wantErr bool
	}{
		{"default", "", nil, 5 * time.Second, false},
		{"env", "40s", nil, 40 * time.Second, false},
		{"flag beats env", "40s", []string{"-healthy-after", "1m"}, time.Minute, false},
		{"zero", "0s", nil, 0, false},
		{"bad env", "forty", nil, 5 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var d time.Duration
			env := func(k string) string {
				if k == "FARGO_HEALTHY_AFTER" {
					return tc.env
				}
				return ""
			}
			err := duration(fs, env, &d, "healthy-after", "FARGO_HEALTHY_AFTER", 5*time.Second, "help")
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v", err)
			}
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if d != tc.want {
				t.Fatalf("got %v, want %v", d, tc.want)
			}
			if got := flagSet(fs, "healthy-after"); got != (len(tc.args) > 0) {
				t.Fatalf("flagSet = %v", got)
			}
		})
	}
}
