// Package tenant names the account and region a request acts in. Every
// resource fargo keeps is keyed by a Scope, and no read ever crosses scopes.
package tenant

import "fmt"

// Scope is an AWS account and region.
type Scope struct {
	Account string // 12 digits
	Region  string // e.g. us-east-1
}

// ARN builds "arn:aws:<service>:<region>:<account>:<resource>".
func (s Scope) ARN(service, resource string) string {
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, s.Region, s.Account, resource)
}

// KeyPrefix is the store key prefix of the scope for a service, e.g.
// "ecs/123456789012/us-east-1/".
func (s Scope) KeyPrefix(service string) string {
	return service + "/" + s.Account + "/" + s.Region + "/"
}
