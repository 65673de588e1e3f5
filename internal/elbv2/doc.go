// Package elbv2 is the Elastic Load Balancing v2 control plane: application
// load balancers, listeners, listener rules, target groups and their
// registrations, with AWS's rules (names, ARNs, DNS names, priorities,
// limits, error codes) and their durability. It knows nothing about wire
// formats (internal/api/elbv2 converts) and nothing about sockets (the
// data plane, internal/lb, serves what this package hands it).
//
//	API ──► Service (validate, one store transaction) ──► store
//	              │
//	              └─► lb.Config (every committed change, and at start) ──► DataPlane.Apply
//	DescribeTargetHealth ◄── registrations (store) + DataPlane.Health
//
// Store layout (all under elbv2/<account>/<region>/, see internal/store):
//
//	lbs/<name>                             LoadBalancer (JSON); its ARN names it
//	listeners/<lb name>/<listener id>      Listener (JSON)
//	rules/<lb name>/<listener id>/<id>     Rule (JSON), non-default rules only
//	tgs/<name>                             TargetGroup (JSON)
//	targets/<tg name>/<id>/<port>          Registration (JSON); DrainUntil set while draining
//	certs/<certificate id>                 Certificate (PEM pair fargo generated)
//
// Every ARN carries the name of the record it names (and a random 16-hex
// id that must match), so a lookup by ARN is one Get. Every change is one
// store.Update transaction; the data plane is told after it committed.
//
// Draining survives restarts: a deregistered target keeps its record with
// DrainUntil = now + deregistration_delay.timeout_seconds; a timer removes
// it then, and Start re-arms the timers of every draining record.
//
// Load balancer state: provisioning from CreatedAt until ActiveAt (a short
// time after, when the data plane has taken the listeners), active after.
//
// HTTPS certificates: ACM does not exist in fargo. A listener names its
// certificates with ACM-shaped ARNs
// (arn:aws:acm:<region>:<account>:certificate/<id>); the first time fargo
// sees an ARN in a scope it generates a self-signed ECDSA P-256
// certificate for it, valid for the DNS names and addresses of the load
// balancers that use it, and keeps the PEM pair in the store
// (certs/<id>), so the same ARN serves the same certificate after a
// restart. Clients trust it with --insecure / verify=False, or pin it.
package elbv2
