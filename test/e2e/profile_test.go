package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProfileKeepsUserEdits: fargo writes its AWS CLI profile on the first
// start; a user's edits to it (their own keys, their values of fargo's
// keys, other profiles) survive a restart, and the profile still works.
func TestProfileKeepsUserEdits(t *testing.T) {
	in := newInstance(t)
	in.start()
	conf := filepath.Join(in.home, ".aws", "config")
	creds := filepath.Join(in.home, ".aws", "credentials")
	g, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(g), "output = json", "output = table\ncli_pager =\nduration_seconds = 900", 1) +
		"\n[profile mine]\nregion = us-west-2\n"
	if edited == string(g)+"\n[profile mine]\nregion = us-west-2\n" {
		t.Fatalf("fargo's profile has no output key:\n%s", g)
	}
	if err := os.WriteFile(conf, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := os.ReadFile(creds)
	editedCreds := string(c) + "\n[mine]\naws_access_key_id = MINE\naws_secret_access_key = MINE\n"
	if err := os.WriteFile(creds, []byte(editedCreds), 0o600); err != nil {
		t.Fatal(err)
	}
	in.kill()
	in.start()
	if g, _ := os.ReadFile(conf); string(g) != edited {
		t.Errorf("a restart changed the edited config:\n%s\nwant:\n%s", g, edited)
	}
	if c, _ := os.ReadFile(creds); string(c) != editedCreds {
		t.Errorf("a restart changed the edited credentials:\n%s\nwant:\n%s", c, editedCreds)
	}
	in.mustAWS("ecs", "list-clusters")
}
