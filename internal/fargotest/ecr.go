package fargotest

import (
	"context"
	"encoding/base64"
	"net"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/fargo-run/fargo/internal/config"
)

// ECR returns an ECR client acting with the administrator key.
func (s *Server) ECR() *ecr.Client {
	id, secret := s.Admin()
	return ecr.NewFromConfig(s.AWSConfig(id, secret))
}

// ECRAs returns an ECR client acting as a dev-mode account (12 digits).
func (s *Server) ECRAs(account string) *ecr.Client {
	return ecr.NewFromConfig(s.AWSConfig(account, config.DevSecretAccessKey))
}

// RegistryHost is the host:port of the registry as repository URIs spell
// it (localhost:<port>).
func (s *Server) RegistryHost() string {
	_, port, _ := net.SplitHostPort(s.Config.Listen)
	return net.JoinHostPort("localhost", port)
}

// RegistryPassword logs c in as `aws ecr get-login-password` does: it calls
// GetAuthorizationToken and returns the password of the "AWS" user.
func RegistryPassword(t testing.TB, c *ecr.Client) string {
	t.Helper()
	out, err := c.GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatalf("GetAuthorizationToken: %v", err)
	}
	raw, err := base64.StdEncoding.DecodeString(*out.AuthorizationData[0].AuthorizationToken)
	if err != nil {
		t.Fatalf("decode token: %v", err)
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok || user != "AWS" {
		t.Fatalf("token is not AWS:<password>: %q", raw)
	}
	return pass
}
