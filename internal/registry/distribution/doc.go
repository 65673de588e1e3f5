// Package distribution serves a registry.Registry as the OCI distribution
// API (distribution-spec 1.1) under /v2/: what docker, crane and skopeo
// push to and pull from. It parses routes, authenticates (Authenticator)
// and authorizes (Registry.Authorize, with the ECR action each method
// needs) every request, calls the registry's domain methods, and maps their
// errors to OCI codes once, in ociStatus. Storage, ECR semantics and the
// upload pipeline are the registry's (see package registry); nothing here
// touches the store or the blob files.
//
//	docker push ──► api.Router (/v2/) ──► Handler.ServeHTTP
//	                                        │ Authenticate (Basic AWS:<token>)
//	                                        │ Registry.RequestScope (Host header)
//	                                        │ parseRoute ─► methods[kind][method] ─► Registry.Authorize
//	                                        ▼
//	                              registry.Registry (store + blobs)
package distribution
