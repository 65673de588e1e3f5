package auth

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/store/bolt"
)

func TestRegistryTokens(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ti, err := NewTokenIssuer(context.Background(), st, clock)
	if err != nil {
		t.Fatal(err)
	}
	pw, exp := ti.Issue("123456789012", "AKIAEXAMPLE")
	if exp.Sub(now) != 12*time.Hour {
		t.Fatalf("expires after %v", exp.Sub(now))
	}
	c, err := ti.Verify(pw)
	if err != nil || c.Account != "123456789012" || c.AccessKeyID != "AKIAEXAMPLE" {
		t.Fatalf("verify: %+v %v", c, err)
	}
	// The key survives a restart: a new issuer accepts the old token.
	ti2, err := NewTokenIssuer(context.Background(), st, clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ti2.Verify(pw); err != nil {
		t.Fatalf("after reload: %v", err)
	}
	for _, bad := range []string{"", "x", "a.b", pw + "x", "e30." + pw[len(pw)-10:]} {
		if _, err := ti.Verify(bad); !errors.Is(err, ErrTokenInvalid) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
	now = now.Add(12*time.Hour + time.Second)
	if _, err := ti.Verify(pw); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("expired: %v", err)
	}
}

// FuzzVerifyToken: no password but one the issuer signed verifies, and
// none makes Verify panic.
func FuzzVerifyToken(f *testing.F) {
	st, err := bolt.Open(filepath.Join(f.TempDir(), "db"), bolt.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	ti, err := NewTokenIssuer(context.Background(), st, nil)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := ti.Issue("123456789012", "AKIAEXAMPLE")
	for _, s := range []string{good, "", ".", "e30.", good + "=", "a.b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, password string) {
		c, err := ti.Verify(password)
		if password == good {
			if err != nil || c.Account != "123456789012" {
				t.Fatalf("the issued token: %+v %v", c, err)
			}
			return
		}
		if err == nil {
			t.Fatalf("%q verified as %+v", password, c)
		}
	})
}
