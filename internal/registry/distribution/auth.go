package distribution

import (
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/registry"
)

// Authenticator identifies the principal of a /v2/ request. It returns an
// error matching registry.ErrUnauthenticated when credentials are missing
// or wrong (answered 401 with a Basic challenge), or another
// errdefs.ErrPermissionDenied error, e.g. for an expired token (403 DENIED).
type Authenticator interface {
	Authenticate(r *http.Request) (registry.Principal, error)
}

// StaticToken authenticates "Authorization: Basic base64(AWS:<Token>)" as
// Account. It is meant for tests and single-user development setups; the
// server plugs in the real ECR token checker.
type StaticToken struct {
	Token   string
	Account string
}

// Authenticate implements Authenticator.
func (a StaticToken) Authenticate(r *http.Request) (registry.Principal, error) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return registry.Principal{}, errdefs.New(registry.ErrUnauthenticated, "Not Authorized")
	}
	if user != "AWS" || subtle.ConstantTimeCompare([]byte(pass), []byte(a.Token)) != 1 {
		return registry.Principal{}, errdefs.New(registry.ErrUnauthenticated, "Your authorization token is invalid.")
	}
	return registry.Principal{Account: a.Account}, nil
}

// BasicToken extracts <token> from "Authorization: Basic base64(AWS:<token>)",
// for Authenticators that check ECR tokens.
func BasicToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, payload, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(payload))
	if err != nil {
		return "", false
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok || user != "AWS" {
		return "", false
	}
	return pass, true
}
