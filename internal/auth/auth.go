// Package auth keeps fargo's access keys: which secret signs for which
// account. It implements sigv4.Credentials for the API front door.
//
// Keys live in the store under iam/keys/<access key id>. On first start the
// server creates an administrator key for its account. Dev mode adds the
// well-known test keys other emulators accept, so CI scripts written for
// them work unchanged:
//
//	access key "test", secret "test"          -> the server's account
//	access key "<12 digits>", secret "test"   -> that account
//
// The second form is how tests (and users) act as several accounts at once.
// Outside dev mode, the operator creates keys for other accounts with
// `fargo accounts create-key`, kept in a file beside the store (KeyFileName).
package auth

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/fargo-run/fargo/internal/store"
)

const keyPrefix = "iam/keys/"

// Key is an access key pair and the account it acts for.
type Key struct {
	AccessKeyID     string    `json:"accessKeyId"`
	SecretAccessKey string    `json:"secretAccessKey"`
	Account         string    `json:"account"`
	Admin           bool      `json:"admin,omitempty"`
	CreatedAt       time.Time `json:"createdAt"`
}

// Keyring resolves access keys.
type Keyring struct {
	st         store.Store
	dev        bool
	devAccount string
	devSecret  string
	file       *fileKeys
	log        *slog.Logger

	mu   sync.RWMutex
	keys map[string]Key
}

// Options configure a Keyring.
type Options struct {
	// Dev accepts the test keys described in the package doc.
	Dev bool
	// DevAccount is the account of access key "test".
	DevAccount string
	// DevSecret is the secret of the dev keys ("test").
	DevSecret string
	// KeyFile is the operator's key file (see KeyFileName); "" for none.
	KeyFile string
	// Logger reports a key file that cannot be read (nil: discard).
	Logger *slog.Logger
}

var accountRe = regexp.MustCompile(`^[0-9]{12}$`)

// Open loads the keys kept in st.
func Open(ctx context.Context, st store.Store, opts Options) (*Keyring, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	k := &Keyring{st: st, dev: opts.Dev, devAccount: opts.DevAccount, devSecret: opts.DevSecret, keys: map[string]Key{},
		file: &fileKeys{path: opts.KeyFile}, log: opts.Logger}
	kvs, err := st.List(ctx, keyPrefix)
	if err != nil {
		return nil, fmt.Errorf("load keys: %w", err)
	}
	for _, kv := range kvs {
		var key Key
		if err := json.Unmarshal(kv.Value, &key); err != nil {
			return nil, fmt.Errorf("load key %s: %w", kv.Key, err)
		}
		k.keys[key.AccessKeyID] = key
	}
	return k, nil
}

// Lookup implements sigv4.Credentials.
func (k *Keyring) Lookup(accessKeyID string) (secret, account string, ok bool) {
	k.mu.RLock()
	key, found := k.keys[accessKeyID]
	k.mu.RUnlock()
	if found {
		return key.SecretAccessKey, key.Account, true
	}
	key, found, err := k.file.lookup(accessKeyID)
	if err != nil {
		k.log.Warn("cannot read the key file; keeping the keys last read from it", "err", err)
	}
	if found {
		return key.SecretAccessKey, key.Account, true
	}
	if k.dev {
		if accessKeyID == "test" {
			return k.devSecret, k.devAccount, true
		}
		if accountRe.MatchString(accessKeyID) {
			return k.devSecret, accessKeyID, true
		}
	}
	return "", "", false
}

// EnsureAdmin returns the administrator key of account, creating and
// storing one if there is none yet; created says which.
func (k *Keyring) EnsureAdmin(ctx context.Context, account string) (Key, bool, error) {
	k.mu.RLock()
	for _, key := range k.keys {
		if key.Admin && key.Account == account {
			k.mu.RUnlock()
			return key, false, nil
		}
	}
	k.mu.RUnlock()
	key := newKey(account)
	key.Admin = true
	b, err := json.Marshal(key)
	if err != nil {
		return Key{}, false, err
	}
	if _, err := k.st.CompareAndSwap(ctx, keyPrefix+key.AccessKeyID, 0, b); err != nil {
		if errors.Is(err, store.ErrRevisionMismatch) {
			return Key{}, false, fmt.Errorf("access key id collision, try again: %w", err)
		}
		return Key{}, false, fmt.Errorf("store admin key: %w", err)
	}
	k.mu.Lock()
	k.keys[key.AccessKeyID] = key
	k.mu.Unlock()
	return key, true, nil
}

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
