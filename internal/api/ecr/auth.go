package ecr

import (
	"context"
	"encoding/base64"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/ecrwire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/tenant"
)

// getAuthorizationToken hands out base64("AWS:"+password), the password a
// token of the caller's account that the /v2/ registry verifies, valid for
// 12 hours. The deprecated registryIds only change proxyEndpoint: the token
// always acts as the caller, and repository policies decide what it may do
// in other accounts.
func (a *Adapter) getAuthorizationToken(_ context.Context, req *api.Request, in *w.GetAuthorizationTokenRequest) (*w.GetAuthorizationTokenResponse, error) {
	if len(in.RegistryIds) > 10 {
		return nil, invalidParam("registryIds", "Member must have length less than or equal to 10")
	}
	ids := in.RegistryIds
	if len(ids) == 0 {
		ids = []string{req.Scope.Account}
	}
	password, expires := a.cfg.Tokens.Issue(req.Scope.Account, req.Identity.AccessKeyID)
	token := base64.StdEncoding.EncodeToString([]byte("AWS:" + password))
	out := &w.GetAuthorizationTokenResponse{}
	for _, id := range ids {
		if !registryIDRE.MatchString(id) {
			return nil, invalidParam("registryIds", "must satisfy regular expression '[0-9]{12}'")
		}
		scope := tenant.Scope{Account: id, Region: req.Scope.Region}
		out.AuthorizationData = append(out.AuthorizationData, w.AuthorizationData{
			AuthorizationToken: wire.String(token),
			ExpiresAt:          wire.NewTimestamp(expires),
			ProxyEndpoint:      wire.String("http://" + a.host(req.Scope.Account, scope)),
		})
	}
	return out, nil
}
