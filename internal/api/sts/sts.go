// Package sts serves the one STS call tools make against fargo:
// GetCallerIdentity, which the AWS CLI, Terraform and SDK helpers use to
// learn the account a key belongs to.
package sts

import (
	"context"

	"github.com/fargo-run/fargo/internal/api"
	"github.com/fargo-run/fargo/internal/api/stswire"
	"github.com/fargo-run/fargo/internal/api/wire"
)

// New returns the STS query service.
func New() *api.QueryService {
	return &api.QueryService{
		Name:    stswire.SigningName,
		Version: stswire.APIVersion,
		XMLNS:   "https://sts.amazonaws.com/doc/" + stswire.APIVersion + "/",
		Handlers: map[string]api.Handler{
			"GetCallerIdentity": getCallerIdentity,
		},
	}
}

func getCallerIdentity(_ context.Context, req *api.Request) (any, error) {
	acct := req.Scope.Account
	return &stswire.GetCallerIdentityResponse{
		Account: wire.String(acct),
		Arn:     wire.String("arn:aws:iam::" + acct + ":root"),
		UserId:  wire.String(acct),
	}, nil
}
