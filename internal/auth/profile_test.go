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
		if err := SyncCLIProfile(filepath.Join(dir, "state.json"), creds, conf, p); err != nil {
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

// TestSyncCLIProfileKeepsUserEdits: a second start with the same key and
// endpoint leaves a user's edits to the profile alone (their own keys and
// their values of fargo's keys); a new admin key or endpoint replaces only
// that key's lines.
func TestSyncCLIProfileKeepsUserEdits(t *testing.T) {
	dir := t.TempDir()
	state, creds, conf := filepath.Join(dir, "state.json"), filepath.Join(dir, "credentials"), filepath.Join(dir, "config")
	p := CLIProfile{Name: "fargo", Key: Key{AccessKeyID: "AKIA1", SecretAccessKey: "S1"}, Region: "us-east-1", EndpointURL: "http://127.0.0.1:4566"}
	if err := SyncCLIProfile(state, creds, conf, p); err != nil {
		t.Fatal(err)
	}
	g, _ := os.ReadFile(conf)
	if string(g) != "[profile fargo]\nregion = us-east-1\nendpoint_url = http://127.0.0.1:4566\noutput = json\n" {
		t.Fatalf("first config:\n%s", g)
	}
	// The user edits fargo's profile and adds a profile of their own.
	edited := "[profile fargo]\nregion = eu-west-1\nendpoint_url = http://127.0.0.1:4566\noutput = table\ncli_pager =\n\n[profile mine]\nregion = us-west-2\n"
	if err := os.WriteFile(conf, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	c0, _ := os.ReadFile(creds)
	if err := SyncCLIProfile(state, creds, conf, p); err != nil {
		t.Fatal(err)
	}
	if g, _ := os.ReadFile(conf); string(g) != edited {
		t.Fatalf("a restart undid the user's edits:\n%s", g)
	}
	if c, _ := os.ReadFile(creds); string(c) != string(c0) {
		t.Fatalf("a restart rewrote the credentials:\n%s", c)
	}
	// A new endpoint (another --listen) and a new admin key replace their
	// own lines, nothing else.
	p.EndpointURL = "http://127.0.0.1:4567"
	p.Key = Key{AccessKeyID: "AKIA2", SecretAccessKey: "S2"}
	if err := SyncCLIProfile(state, creds, conf, p); err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(edited, "4566", "4567", 1)
	if g, _ := os.ReadFile(conf); string(g) != want {
		t.Fatalf("config after a new endpoint:\n%s\nwant:\n%s", g, want)
	}
	if c, _ := os.ReadFile(creds); string(c) != "[fargo]\naws_access_key_id = AKIA2\naws_secret_access_key = S2\n" {
		t.Fatalf("credentials after a new key:\n%s", c)
	}
	// A deleted profile comes back whole.
	if err := os.WriteFile(conf, []byte("[profile mine]\nregion = us-west-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := SyncCLIProfile(state, creds, conf, p); err != nil {
		t.Fatal(err)
	}
	if g, _ := os.ReadFile(conf); string(g) != "[profile mine]\nregion = us-west-2\n\n[profile fargo]\nregion = us-east-1\nendpoint_url = http://127.0.0.1:4567\noutput = json\n" {
		t.Fatalf("config after the profile was deleted:\n%s", g)
	}
}
