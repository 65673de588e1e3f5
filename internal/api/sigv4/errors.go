package sigv4

import "net/http"

// Kind classifies a verification failure. The HTTP layer turns it into an
// AWS error code with (*Error).Code and a status with (*Error).HTTPStatus.
type Kind int

const (
	// MissingAuthentication: neither an Authorization header nor presigned
	// query parameters.
	MissingAuthentication Kind = iota + 1
	// IncompleteSignature: the Authorization header or the presigned
	// parameters are malformed (missing parameter, bad credential scope,
	// unsupported algorithm, no date).
	IncompleteSignature
	// UnrecognizedClient: the access key id is unknown.
	UnrecognizedClient
	// SignatureMismatch: the signature is wrong, or the credential scope
	// does not match the request (date, terminator).
	SignatureMismatch
	// Expired: the request date is more than MaxSkew in the past, or a
	// presigned request is past its X-Amz-Expires.
	Expired
	// NotYetCurrent: the request date is more than MaxSkew in the future.
	NotYetCurrent
	// InvalidDate: X-Amz-Date (or Date) cannot be parsed.
	InvalidDate
)

var kindNames = [...]string{
	MissingAuthentication: "MissingAuthentication",
	IncompleteSignature:   "IncompleteSignature",
	UnrecognizedClient:    "UnrecognizedClient",
	SignatureMismatch:     "SignatureMismatch",
	Expired:               "Expired",
	NotYetCurrent:         "NotYetCurrent",
	InvalidDate:           "InvalidDate",
}

func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(?)"
}

// Error is a SigV4 verification failure. Message is worded as AWS words it.
type Error struct {
	Kind    Kind
	Message string
}

func (e *Error) Error() string { return "sigv4: " + e.Kind.String() + ": " + e.Message }

// Code returns the AWS error code: the awsJson __type when query is false,
// the awsQuery <Code> when query is true.
//
//	Kind                   awsJson (query=false)                 awsQuery (query=true)
//	MissingAuthentication  MissingAuthenticationTokenException  MissingAuthenticationToken
//	IncompleteSignature    IncompleteSignatureException         IncompleteSignature
//	InvalidDate            IncompleteSignatureException         IncompleteSignature
//	UnrecognizedClient     UnrecognizedClientException          InvalidClientTokenId
//	SignatureMismatch      InvalidSignatureException            SignatureDoesNotMatch
//	Expired                InvalidSignatureException            SignatureDoesNotMatch
//	NotYetCurrent          InvalidSignatureException            SignatureDoesNotMatch
//
// AWS reports a malformed date as IncompleteSignature ("Date must be in
// ISO-8601 'basic format'"), so InvalidDate shares that code.
func (e *Error) Code(query bool) string {
	switch e.Kind {
	case MissingAuthentication:
		if query {
			return "MissingAuthenticationToken"
		}
		return "MissingAuthenticationTokenException"
	case IncompleteSignature, InvalidDate:
		if query {
			return "IncompleteSignature"
		}
		return "IncompleteSignatureException"
	case UnrecognizedClient:
		if query {
			return "InvalidClientTokenId"
		}
		return "UnrecognizedClientException"
	default: // SignatureMismatch, Expired, NotYetCurrent
		if query {
			return "SignatureDoesNotMatch"
		}
		return "InvalidSignatureException"
	}
}

// HTTPStatus returns the status AWS answers with. It depends on the
// protocol, like Code:
//
//   - awsJson (query=false): 400 for every kind. Observed answers:
//     InvalidSignatureException "Signature expired…" 400 from ECR, Kinesis,
//     DynamoDB, Rekognition (upmc-enterprises/registry-creds#24,
//     remind101/logspout-kinesis#21, aws/aws-sdk-js#254, aws/aws-sdk-php#1780);
//     UnrecognizedClientException 400 from ECS and DynamoDB
//     (aws-azure-login#37, yegor256/s3auth#244). MissingAuthenticationTokenException
//     and IncompleteSignatureException follow the same 400 client-error rule
//     of awsJson (docs/aws-api.md §1.2).
//   - awsQuery (query=true): the "Common Errors" page of the query APIs
//     (e.g. docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html):
//     IncompleteSignature 400, InvalidClientTokenId 403,
//     MissingAuthenticationToken 403; SignatureDoesNotMatch is 403 in practice
//     (ELB in aws/aws-sdk-js#142, SQS in aws/aws-sdk-php#642).
func (e *Error) HTTPStatus(query bool) int {
	if !query {
		return http.StatusBadRequest
	}
	switch e.Kind {
	case IncompleteSignature, InvalidDate:
		return http.StatusBadRequest
	default:
		return http.StatusForbidden
	}
}

// Messages as AWS words them. The skew formats come from real answers, e.g.
// "Signature expired: 20151120T200815Z is now earlier than 20151120T201846Z
// (20151120T202346Z - 5 min.)" (remind101/logspout-kinesis#21) and
// "Signature not yet current: 20130730T204752Z is still later than
// 20130730T204123Z (20130730T203623Z + 5 min.)" (aws/aws-sdk-js#142).
const (
	msgMissingAuth  = "Missing Authentication Token"
	msgUnrecognized = "The security token included in the request is invalid."
	msgMismatch     = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgExpiredFmt   = "Signature expired: %s is now earlier than %s (%s - %s.)"
	msgNotYetFmt    = "Signature not yet current: %s is still later than %s (%s + %s.)"
	msgPresignGone  = "Request has expired"
	// The scope-date check is a failed signature verification, not a
	// malformed header: AWS's "Troubleshoot Signature Version 4 errors" page
	// lists this message among "the signature verification step fails"
	// errors, and server-side reimplementations (scratchstack-aws-signature)
	// answer it as SignatureDoesNotMatch. So: Kind SignatureMismatch.
	msgScopeDateFmt = "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'."
	msgTermFmt      = "Credential should be scoped with a valid terminator: 'aws4_request', not '%s'."
	msgRegionFmt    = "Credential should be scoped to a valid region, not '%s'. "
	msgCredParts    = "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'"
	msgBadDateFmt   = "Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601"
	msgHostUnsigned = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
	msgUnsupAlgFmt  = "Unsupported AWS 'algorithm': '%s'"
	msgNoEqualFmt   = "'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'."
	msgBothAuth     = "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified"
	msgQueryParams  = "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders'. Re-examine the query-string parameters."
	msgExpiresNum   = "X-Amz-Expires should be a number"
	msgExpiresNeg   = "X-Amz-Expires must be non-negative"
	msgExpiresWeek  = "X-Amz-Expires must be less than a week (in seconds) that is 604800"
	msgStreaming    = "Chunked (STREAMING-*) payload signing is not supported by this endpoint."
	msgContentHash  = "The provided 'x-amz-content-sha256' header does not match what was computed."
	msgContentBad   = "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a valid sha256 value."
)
