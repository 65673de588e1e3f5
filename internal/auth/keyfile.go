package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"
)

// KeyFileName is the file, in fargo's data directory, of the access keys
// the operator creates with `fargo accounts create-key`. They live beside
// the store rather than in it because the store is locked by the running
// server: the command writes the file (under a lock of its own, atomically)
// whether the server runs or not, and the server rereads it when it
// changes, so a new key works at once and a deleted one stops working.
const KeyFileName = "access-keys.json"

// Errors of the key file's commands.
var (
	ErrNoSuchKey    = errors.New("no such access key")
	ErrBadAccountID = errors.New("not an account id")
)

// keyFile is the content of the key file.
type keyFile struct {
	Keys []Key `json:"keys"`
}

// fileKeys caches the key file, reread when it changes.
type fileKeys struct {
	path string
	mu   sync.Mutex
	fi   os.FileInfo // of the file last read; nil: none
	keys map[string]Key
	err  error // of the last read, reported once per change of the file
}

// lookup finds id in the file, rereading it if it changed since the last
// read (a rename, a new size or mtime). A file that cannot be read keeps
// the last keys read; reloadErr is the error of a new, bad read.
func (f *fileKeys) lookup(id string) (key Key, ok bool, reloadErr error) {
	if f == nil || f.path == "" {
		return Key{}, false, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fi, err := os.Stat(f.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		f.fi, f.keys = nil, nil
	case err != nil:
		return Key{}, false, err
	case f.fi == nil || !os.SameFile(fi, f.fi) || fi.Size() != f.fi.Size() || !fi.ModTime().Equal(f.fi.ModTime()):
		kf, rerr := readKeyFile(f.path)
		f.fi = fi
		if rerr != nil {
			reloadErr = rerr
			break
		}
		f.keys = make(map[string]Key, len(kf.Keys))
		for _, k := range kf.Keys {
			f.keys[k.AccessKeyID] = k
		}
	}
	key, ok = f.keys[id]
	return key, ok, reloadErr
}

func readKeyFile(path string) (keyFile, error) {
	var kf keyFile
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return kf, nil
	}
	if err != nil {
		return kf, err
	}
	if err := json.Unmarshal(b, &kf); err != nil {
		return kf, fmt.Errorf("%s: %w", path, err)
	}
	return kf, nil
}

// CreateFileKey creates an access key pair for account and stores it in
// the key file of dataDir (created if need be).
func CreateFileKey(dataDir, account string) (Key, error) {
	if !accountRe.MatchString(account) {
		return Key{}, fmt.Errorf("%w: %q must be 12 digits", ErrBadAccountID, account)
	}
	key := newKey(account)
	err := editKeyFile(dataDir, func(kf *keyFile) error {
		kf.Keys = append(kf.Keys, key)
		return nil
	})
	return key, err
}

// DeleteFileKey removes an access key from the key file of dataDir.
func DeleteFileKey(dataDir, accessKeyID string) error {
	return editKeyFile(dataDir, func(kf *keyFile) error {
		n := len(kf.Keys)
		kf.Keys = slices.DeleteFunc(kf.Keys, func(k Key) bool { return k.AccessKeyID == accessKeyID })
		if len(kf.Keys) == n {
			return fmt.Errorf("%w: %s", ErrNoSuchKey, accessKeyID)
		}
		return nil
	})
}

// ListFileKeys returns the keys of dataDir's key file.
func ListFileKeys(dataDir string) ([]Key, error) {
	kf, err := readKeyFile(filepath.Join(dataDir, KeyFileName))
	return kf.Keys, err
}

// editKeyFile changes the key file under an exclusive lock (two commands
// at once do not lose a key) and replaces it durably: written, synced and
// renamed into place, the directory synced.
func editKeyFile(dataDir string, edit func(*keyFile) error) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dataDir, KeyFileName+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock the key file: %w", err)
	}
	path := filepath.Join(dataDir, KeyFileName)
	kf, err := readKeyFile(path)
	if err != nil {
		return err
	}
	if err := edit(&kf); err != nil {
		return err
	}
	b, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	d, err := os.Open(dataDir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// newKey makes a random key pair for account, shaped like AWS's.
func newKey(account string) Key {
	return Key{
		AccessKeyID:     "AKIA" + randomString(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
		SecretAccessKey: randomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
		Account:         account,
		CreatedAt:       time.Now().UTC(),
	}
}
