package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteCLIProfileKeepsOtherSections(t *testing.T) {
	dir := t.TempDir()
	creds, conf := filepath.Join(dir, "credentials"), filepath.Join(dir, "config")
	if err := os.WriteFile(creds, []byte("[default]\naws_access_key_id = A\n\n[fargo]\naws_access_key_id = OLD\naws_secret_access_key = OLD\n\n[other]\nx = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := CLIProfile{Name: "fargo", Key: Key{AccessKeyID: "AKIANEW", SecretAccessKey: "S"}, Region: "us-east-1", EndpointURL: "http://127.0.0.1:4566"}
	for range 2 { // idempotent
		if err := WriteCLIProfile(creds, conf, p); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := os.ReadFile(creds)
	s := string(c)
	if strings.Contains(s, "OLD") || !strings.Contains(s, "[default]\naws_access_key_id = A") || !strings.Contains(s, "[other]\nx = 1") ||
		strings.Count(s, "[fargo]") != 1 || !strings.Contains(s, "aws_access_key_id = AKIANEW") {
		t.Fatalf("credentials:\n%s", s)
	}
	g, _ := os.ReadFile(conf)
	if !strings.Contains(string(g), "[profile fargo]\nregion = us-east-1\nendpoint_url = http://127.0.0.1:4566") {
		t.Fatalf("config:\n%s", g)
	}
	if fi, _ := os.Stat(creds); fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials mode %v", fi.Mode())
	}
}

func TestDevKeys(t *testing.T) {
	k := &Keyring{dev: true, devAccount: "123456789012", devSecret: "test", keys: map[string]Key{"AKIAX": {AccessKeyID: "AKIAX", SecretAccessKey: "s", Account: "000000000001"}}}
	for _, tc := range []struct{ id, secret, account string }{
		{"test", "test", "123456789012"}, {"111122223333", "test", "111122223333"}, {"AKIAX", "s", "000000000001"},
	} {
		s, a, ok := k.Lookup(tc.id)
		if !ok || s != tc.secret || a != tc.account {
			t.Fatalf("%s: %s %s %v", tc.id, s, a, ok)
		}
	}
	if _, _, ok := k.Lookup("12345"); ok {
		t.Fatal("short numeric key accepted")
	}
	k.dev = false
	if _, _, ok := k.Lookup("test"); ok {
		t.Fatal("test key accepted outside dev mode")
	}
}
