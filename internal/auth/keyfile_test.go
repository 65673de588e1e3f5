package auth

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

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
