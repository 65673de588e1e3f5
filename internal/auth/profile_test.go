package auth

import (
	"errors"
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

// TestKeyFile: keys created in the key file are found by a keyring that
// is already open, and a deleted one is no longer.
func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	k := &Keyring{keys: map[string]Key{}, file: &fileKeys{path: filepath.Join(dir, KeyFileName)}}
	if _, _, ok := k.Lookup("AKIANOTTHERE"); ok {
		t.Fatal("a key found without a key file")
	}
	a, err := CreateFileKey(dir, "111111111111")
	if err != nil {
		t.Fatal(err)
	}
	b, err := CreateFileKey(dir, "222222222222")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []Key{a, b} {
		if s, acct, ok := k.Lookup(key.AccessKeyID); !ok || s != key.SecretAccessKey || acct != key.Account {
			t.Fatalf("%s: %q %q %v", key.AccessKeyID, s, acct, ok)
		}
	}
	if err := DeleteFileKey(dir, a.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := k.Lookup(a.AccessKeyID); ok {
		t.Fatal("a deleted key is still found")
	}
	if _, _, ok := k.Lookup(b.AccessKeyID); !ok {
		t.Fatal("the other key is lost")
	}
	if err := DeleteFileKey(dir, a.AccessKeyID); !errors.Is(err, ErrNoSuchKey) {
		t.Fatalf("deleting twice: %v", err)
	}
	if _, err := CreateFileKey(dir, "1234"); !errors.Is(err, ErrBadAccountID) {
		t.Fatalf("a short account id: %v", err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, KeyFileName)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", fi.Mode())
	}
}
