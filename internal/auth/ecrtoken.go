package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/memo"
	"github.com/fargo-run/fargo/internal/store"
)

// RegistryTokenTTL is how long an ECR authorization token is valid, as in
// ECR.
const RegistryTokenTTL = 12 * time.Hour

const tokenKeyKey = "iam/registry-token-key"

// Errors of TokenIssuer.Verify.
var (
	ErrTokenInvalid = errors.New("auth: invalid registry token")
	ErrTokenExpired = errors.New("auth: registry token expired")
)

// Claims are what a registry token says about its holder.
type Claims struct {
	Account     string    `json:"a"`
	AccessKeyID string    `json:"k"`
	ExpiresAt   time.Time `json:"e"`
}

// TokenIssuer mints and checks the passwords GetAuthorizationToken hands
// out: "<base64url(claims)>.<base64url(HMAC-SHA256(key, claims))>". The
// key is kept in the store, so tokens survive restarts; the claims carry
// the identity, so repository policies apply to whoever pushes or pulls.
type TokenIssuer struct {
	key []byte
	now func() time.Time

	// verified remembers the claims of tokens whose signature checked out
	// (password -> Claims): docker sends the same token with every
	// request of a pull. Expiry is still checked on every use.
	verified memo.Map
}

// NewTokenIssuer loads the signing key from st, creating it on first use.
func NewTokenIssuer(ctx context.Context, st store.Store, now func() time.Time) (*TokenIssuer, error) {
	if now == nil {
		now = time.Now
	}
	kv, err := st.Get(ctx, tokenKeyKey)
	if errors.Is(err, store.ErrNotFound) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if _, err := st.CompareAndSwap(ctx, tokenKeyKey, 0, key); err != nil && !errors.Is(err, store.ErrRevisionMismatch) {
			return nil, fmt.Errorf("store registry token key: %w", err)
		}
		kv, err = st.Get(ctx, tokenKeyKey)
	}
	if err != nil {
		return nil, fmt.Errorf("load registry token key: %w", err)
	}
	return &TokenIssuer{key: kv.Value, now: now}, nil
}

// Issue returns a password for account's key and when it expires.
func (ti *TokenIssuer) Issue(account, accessKeyID string) (string, time.Time) {
	exp := ti.now().Add(RegistryTokenTTL).UTC().Truncate(time.Second)
	body, _ := json.Marshal(Claims{Account: account, AccessKeyID: accessKeyID, ExpiresAt: exp})
	enc := base64.RawURLEncoding
	return enc.EncodeToString(body) + "." + enc.EncodeToString(ti.sign(body)), exp
}

func (ti *TokenIssuer) sign(body []byte) []byte {
	m := hmac.New(sha256.New, ti.key)
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a password and returns its claims.
func (ti *TokenIssuer) Verify(password string) (Claims, error) {
	if v, ok := ti.verified.Load(password); ok {
		return ti.checkExpiry(v.(Claims))
	}
	b64, sig64, ok := strings.Cut(password, ".")
	if !ok {
		return Claims{}, ErrTokenInvalid
	}
	enc := base64.RawURLEncoding
	body, err1 := enc.DecodeString(b64)
	sig, err2 := enc.DecodeString(sig64)
	if err1 != nil || err2 != nil || !hmac.Equal(sig, ti.sign(body)) {
		return Claims{}, ErrTokenInvalid
	}
	var c Claims
	if err := json.Unmarshal(body, &c); err != nil {
		return Claims{}, ErrTokenInvalid
	}
	ti.verified.Store(password, c)
	return ti.checkExpiry(c)
}

func (ti *TokenIssuer) checkExpiry(c Claims) (Claims, error) {
	if !ti.now().Before(c.ExpiresAt) {
		return c, ErrTokenExpired
	}
	return c, nil
}
