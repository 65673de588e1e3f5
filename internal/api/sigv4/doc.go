// Package sigv4 verifies AWS Signature Version 4 on incoming HTTP requests,
// server-side, the way AWS front ends do for the awsJson and awsQuery
// protocols.
//
// A request is authenticated either by an Authorization header
//
//	Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261122/us-east-1/ecs/aws4_request,
//	               SignedHeaders=content-type;host;x-amz-date, Signature=<64 hex>
//
// or by presigned query parameters (X-Amz-Algorithm, X-Amz-Credential,
// X-Amz-Date, X-Amz-SignedHeaders, X-Amz-Signature and optionally
// X-Amz-Expires and X-Amz-Security-Token). Both use the same algorithm:
//
//	request ──► parse auth ──► check date/skew/scope ──► look up secret
//	                                                          │
//	  canonical request                                       │
//	  METHOD\n                                                │
//	  canonical URI\n         (wire path, each byte outside   │
//	                           A-Za-z0-9-._~/ %XX-encoded:     │
//	                           the SDKs encode it twice)       │
//	  canonical query\n       (decoded, re-encoded RFC 3986,  │
//	                           sorted by key then value,       │
//	                           X-Amz-Signature left out)       │
//	  name:value\n ...        (signed headers only, values    │
//	                           trimmed, space runs collapsed,  │
//	                           repeats joined with ',')        │
//	  signed;headers\n                                        │
//	  payload hash            (X-Amz-Content-Sha256 if sent,  │
//	        │                  else hex(sha256(body)))         ▼
//	        ▼                                    kDate  = HMAC("AWS4"+secret, yyyymmdd)
//	string to sign                               kRegion= HMAC(kDate, region)
//	  AWS4-HMAC-SHA256\n                         kSvc   = HMAC(kRegion, service)
//	  <X-Amz-Date>\n                             kSign  = HMAC(kSvc, "aws4_request")
//	  yyyymmdd/region/service/aws4_request\n          │   (cached per secret/date/
//	  hex(sha256(canonical request))                  │    region/service)
//	        │                                         │
//	        └──────────► hex(HMAC(kSign, sts)) ◄──────┘
//	                            │
//	                constant-time compare with Signature
//
// The checks before the signature are AWS's: the request date within 15
// minutes of the server's clock (AWS's window; Verifier.MaxSkew), a region
// in the credential scope that is a real region name (tenant.ValidRegion,
// since it ends up in ARNs and store keys), a known access key, and a
// session token only if Verifier.Tokens says it was issued (fargo issues
// none yet, so any X-Amz-Security-Token is UnrecognizedClientException).
//
// Verify never reads r.Body: the caller passes the body it already read.
// Errors are *Error values carrying a Kind and AWS's own wording; Code and
// HTTPStatus map a Kind to the awsJson or awsQuery error code and status.
//
// Clients differ in small ways that AWS tolerates because AWS normalizes the
// same way they do: botocore removes dot segments and empty segments from the
// path and collapses every whitespace run in header values, while the Go SDK
// does neither. Verify checks the Go SDK form first and, only when that fails
// and the request could canonicalize differently, the botocore form.
package sigv4
