package server

import (
	"errors"
	"net/http"

	"github.com/fargo-run/fargo/internal/auth"
	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/registry"
	"github.com/fargo-run/fargo/internal/registry/distribution"
)

// registryAuth is the distribution.Authenticator of /v2/ requests: it checks
// the passwords GetAuthorizationToken issues (Basic auth, user "AWS").
type registryAuth struct {
	tokens *auth.TokenIssuer
}

func (a registryAuth) Authenticate(r *http.Request) (registry.Principal, error) {
	token, ok := distribution.BasicToken(r)
	if !ok {
		return registry.Principal{}, errdefs.New(registry.ErrUnauthenticated, "Not Authorized")
	}
	claims, err := a.tokens.Verify(token)
	switch {
	case errors.Is(err, auth.ErrTokenExpired):
		return registry.Principal{}, errdefs.New(registry.ErrDenied, "Your authorization token has expired. Reauthenticate and try again.")
	case err != nil:
		return registry.Principal{}, errdefs.New(registry.ErrUnauthenticated, "Your authorization token is invalid.")
	}
	return registry.Principal{Account: claims.Account}, nil
}
