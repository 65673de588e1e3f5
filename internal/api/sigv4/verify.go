package sigv4

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fargo-run/fargo/internal/tenant"
)

// Credentials resolves an access key id to its secret and owning account.
type Credentials interface {
	Lookup(accessKeyID string) (secret, account string, ok bool)
}

// SessionTokens says whether a session token was issued for an access key
// (STS temporary credentials).
type SessionTokens interface {
	ValidSessionToken(accessKeyID, token string) bool
}

// Verifier checks SigV4 signatures. The zero value (with Credentials set) is
// ready to use and safe for concurrent use; it must not be copied after first
// use because it owns the signing-key cache.
type Verifier struct {
	Credentials Credentials
	// Tokens checks X-Amz-Security-Token; nil means no token was ever
	// issued, so a request carrying one is refused as AWS refuses an
	// unknown token (UnrecognizedClientException).
	Tokens  SessionTokens
	Now     func() time.Time // nil = time.Now
	MaxSkew time.Duration    // 0 = 15 * time.Minute, AWS's window

	keys keyCache
}

// Identity is who signed a verified request, and the scope they signed for.
// The HTTP layer checks Region and Service against the endpoint.
type Identity struct {
	AccessKeyID, Account, Region, Service string
	SessionToken                          string
}

const (
	algorithm       = "AWS4-HMAC-SHA256"
	terminator      = "aws4_request"
	amzDateLayout   = "20060102T150405Z"
	unsignedPayload = "UNSIGNED-PAYLOAD"
	defaultSkew     = 15 * time.Minute
	maxPresignLife  = 604800 // seconds, one week
)

// authParams is what both signing forms carry, after parsing.
type authParams struct {
	credential    string // AKID/date/region/service/aws4_request
	signedHeaders string
	signature     string
	amzDate       string // ISO-8601 basic, as signed
	sessionToken  string
	expires       string // presigned only; "" when absent
	presigned     bool
}

// Verify checks r. body is the full request body already read by the caller
// (r.Body must not be read by Verify). It handles the Authorization-header
// form and the presigned query form (X-Amz-Algorithm, X-Amz-Credential,
// X-Amz-Date, X-Amz-SignedHeaders, X-Amz-Signature, X-Amz-Expires,
// X-Amz-Security-Token). Failures are *Error values.
func (v *Verifier) Verify(r *http.Request, body []byte) (Identity, error) {
	sc := scratchPool.Get().(*scratch)
	defer sc.release()
	sc.reset()

	if r.URL != nil {
		parseQuery(r.URL.RawQuery, sc)
	}
	p, err := readAuth(r, sc)
	if err != nil {
		return Identity{}, err
	}

	// Credential scope: AKID/yyyymmdd/region/service/aws4_request.
	akid, scopeDate, region, service, term, ok := splitCredential(p.credential)
	if !ok {
		return Identity{}, &Error{IncompleteSignature, fmt.Sprintf(msgCredParts, p.credential)}
	}

	t, err := time.Parse(amzDateLayout, p.amzDate)
	if err != nil || len(p.amzDate) != len(amzDateLayout) {
		return Identity{}, &Error{InvalidDate, fmt.Sprintf(msgBadDateFmt, p.amzDate)}
	}
	if err := v.checkTime(t, p); err != nil {
		return Identity{}, err
	}
	if term != terminator {
		return Identity{}, &Error{SignatureMismatch, fmt.Sprintf(msgTermFmt, term)}
	}
	if !tenant.ValidRegion(region) {
		return Identity{}, &Error{SignatureMismatch, fmt.Sprintf(msgRegionFmt, region)}
	}
	if scopeDate != p.amzDate[:8] {
		return Identity{}, &Error{SignatureMismatch, fmt.Sprintf(msgScopeDateFmt, scopeDate, p.amzDate[:8], p.amzDate)}
	}
	if !hasSignedHeader(p.signedHeaders, "host") {
		return Identity{}, &Error{IncompleteSignature, msgHostUnsigned}
	}

	payloadHash, err := payloadHash(r, sc, p, body)
	if err != nil {
		return Identity{}, err
	}

	if v.Credentials == nil {
		return Identity{}, &Error{UnrecognizedClient, msgUnrecognized}
	}
	secret, account, ok := v.Credentials.Lookup(akid)
	if !ok {
		return Identity{}, &Error{UnrecognizedClient, msgUnrecognized}
	}
	if p.sessionToken != "" && (v.Tokens == nil || !v.Tokens.ValidSessionToken(akid, p.sessionToken)) {
		return Identity{}, &Error{UnrecognizedClient, msgUnrecognized}
	}

	var want [sha256.Size]byte
	if len(p.signature) != 2*sha256.Size {
		return Identity{}, &Error{SignatureMismatch, msgMismatch}
	}
	if _, err := hex.Decode(want[:], unsafeBytes(p.signature)); err != nil {
		return Identity{}, &Error{SignatureMismatch, msgMismatch}
	}

	key := v.keys.get(secret, scopeDate, region, service)
	scope := p.credential[len(akid)+1:]
	got := signature(sc, &key, r, p, scope, payloadHash, flavorSDK)
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		// Only requests that can canonicalize differently pay for a second try.
		if !botocoreDiffers(r, p.signedHeaders) {
			return Identity{}, &Error{SignatureMismatch, msgMismatch}
		}
		got = signature(sc, &key, r, p, scope, payloadHash, flavorBotocore)
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return Identity{}, &Error{SignatureMismatch, msgMismatch}
		}
	}
	return Identity{
		AccessKeyID:  akid,
		Account:      account,
		Region:       region,
		Service:      service,
		SessionToken: p.sessionToken,
	}, nil
}

// checkTime applies the clock-skew window, and for presigned requests the
// X-Amz-Expires lifetime instead of the past half of the window.
func (v *Verifier) checkTime(t time.Time, p authParams) error {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = defaultSkew
	}
	// Whole seconds, as in AWS's messages; keeps the boundary exact.
	n := now().UTC().Truncate(time.Second)
	if p.presigned && p.expires != "" {
		secs, err := strconv.ParseInt(p.expires, 10, 64)
		switch {
		case err != nil:
			return &Error{IncompleteSignature, msgExpiresNum}
		case secs < 0:
			return &Error{IncompleteSignature, msgExpiresNeg}
		case secs > maxPresignLife:
			return &Error{IncompleteSignature, msgExpiresWeek}
		}
		if n.After(t.Add(time.Duration(secs) * time.Second)) {
			return &Error{Expired, msgPresignGone}
		}
	} else if min := n.Add(-skew); t.Before(min) {
		return &Error{Expired, fmt.Sprintf(msgExpiredFmt,
			t.Format(amzDateLayout), min.Format(amzDateLayout), n.Format(amzDateLayout), skewString(skew))}
	}
	if max := n.Add(skew); t.After(max) {
		return &Error{NotYetCurrent, fmt.Sprintf(msgNotYetFmt,
			t.Format(amzDateLayout), max.Format(amzDateLayout), n.Format(amzDateLayout), skewString(skew))}
	}
	return nil
}

// skewString renders the window the way AWS does ("5 min.", "15 min.").
func skewString(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + " sec"
}

// readAuth finds the signing form and its parameters.
func readAuth(r *http.Request, sc *scratch) (authParams, error) {
	auth := r.Header.Get("Authorization")
	qAlg, hasQAlg := sc.queryValue("X-Amz-Algorithm")
	if auth == "" {
		if !hasQAlg && !sc.hasQuery("X-Amz-Credential") && !sc.hasQuery("X-Amz-Signature") {
			return authParams{}, &Error{MissingAuthentication, msgMissingAuth}
		}
		return readPresigned(sc, qAlg)
	}
	if hasQAlg {
		return authParams{}, &Error{IncompleteSignature, msgBothAuth}
	}
	amzDate := r.Header.Get("X-Amz-Date")
	date := r.Header.Get("Date")
	p, err := parseAuthorizationParams(auth, amzDate != "" || date != "")
	if err != nil {
		return p, err
	}
	p.amzDate = amzDate
	if amzDate == "" {
		// The Date header form: sign with its ISO-8601 basic rendering.
		t, err := http.ParseTime(date)
		if err != nil {
			return p, &Error{InvalidDate, fmt.Sprintf(msgBadDateFmt, date)}
		}
		p.amzDate = t.UTC().Format(amzDateLayout)
	}
	p.sessionToken = r.Header.Get("X-Amz-Security-Token")
	return p, nil
}

func readPresigned(sc *scratch, alg string) (authParams, error) {
	p := authParams{presigned: true}
	var ok [4]bool
	p.credential, ok[0] = sc.queryValue("X-Amz-Credential")
	p.signature, ok[1] = sc.queryValue("X-Amz-Signature")
	p.amzDate, ok[2] = sc.queryValue("X-Amz-Date")
	p.signedHeaders, ok[3] = sc.queryValue("X-Amz-SignedHeaders")
	if alg == "" || !ok[0] || !ok[1] || !ok[2] || !ok[3] {
		return p, &Error{IncompleteSignature, msgQueryParams}
	}
	if alg != algorithm {
		return p, &Error{IncompleteSignature, fmt.Sprintf(msgUnsupAlgFmt, alg)}
	}
	p.expires, _ = sc.queryValue("X-Amz-Expires")
	p.sessionToken, _ = sc.queryValue("X-Amz-Security-Token")
	return p, nil
}

// parseAuthorizationParams parses an Authorization header value of the form
// "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…"; hasDate says
// whether the request carries X-Amz-Date or Date, so that one message can
// list everything missing, as AWS does.
func parseAuthorizationParams(h string, hasDate bool) (authParams, error) {
	var p authParams
	alg, rest, _ := strings.Cut(strings.TrimLeft(h, " \t"), " ")
	switch {
	case alg == algorithm:
	case strings.HasPrefix(alg, "AWS4-"):
		return p, &Error{IncompleteSignature, fmt.Sprintf(msgUnsupAlgFmt, alg)}
	default:
		// Not SigV4 at all (Bearer, SigV2, garbage): AWS lists what is missing.
		rest = ""
	}
	for rest != "" {
		var part string
		i := strings.IndexAny(rest, ", \t")
		if i < 0 {
			part, rest = rest, ""
		} else {
			part, rest = rest[:i], rest[i+1:]
		}
		if part == "" {
			continue
		}
		k, val, found := strings.Cut(part, "=")
		if !found {
			return p, &Error{IncompleteSignature, fmt.Sprintf(msgNoEqualFmt, part, h)}
		}
		switch k {
		case "Credential":
			p.credential = val
		case "SignedHeaders":
			p.signedHeaders = val
		case "Signature":
			p.signature = val
		}
	}
	if p.credential == "" || p.signedHeaders == "" || p.signature == "" || !hasDate {
		var b strings.Builder
		if p.credential == "" {
			b.WriteString("Authorization header requires 'Credential' parameter. ")
		}
		if p.signature == "" {
			b.WriteString("Authorization header requires 'Signature' parameter. ")
		}
		if p.signedHeaders == "" {
			b.WriteString("Authorization header requires 'SignedHeaders' parameter. ")
		}
		if !hasDate {
			b.WriteString("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ")
		}
		b.WriteString("Authorization=")
		b.WriteString(h)
		return p, &Error{IncompleteSignature, b.String()}
	}
	return p, nil
}

// splitCredential splits AKID/date/region/service/term; all five non-empty.
func splitCredential(c string) (akid, date, region, service, term string, ok bool) {
	var parts [5]string
	for i := 0; i < 4; i++ {
		var found bool
		parts[i], c, found = strings.Cut(c, "/")
		if !found || parts[i] == "" {
			return "", "", "", "", "", false
		}
	}
	if c == "" || strings.IndexByte(c, '/') >= 0 {
		return "", "", "", "", "", false
	}
	parts[4] = c
	return parts[0], parts[1], parts[2], parts[3], parts[4], true
}

func hasSignedHeader(list, name string) bool {
	for list != "" {
		var h string
		h, list, _ = strings.Cut(list, ";")
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}

// payloadHash returns the hash the client signed: X-Amz-Content-Sha256 when
// sent (after checking a hex value against the body), else sha256(body).
func payloadHash(r *http.Request, sc *scratch, p authParams, body []byte) (string, error) {
	h := r.Header.Get("X-Amz-Content-Sha256")
	if p.presigned {
		if q, ok := sc.queryValue("X-Amz-Content-Sha256"); ok {
			h = q
		}
	}
	if h == "" {
		sum := sha256.Sum256(body)
		hex.Encode(sc.hash[:], sum[:])
		return unsafeString(sc.hash[:]), nil
	}
	if h == unsignedPayload {
		return h, nil
	}
	if strings.HasPrefix(h, "STREAMING-") {
		return "", &Error{IncompleteSignature, msgStreaming}
	}
	var claimed [sha256.Size]byte
	if len(h) != 2*sha256.Size {
		return "", &Error{IncompleteSignature, msgContentBad}
	}
	if _, err := hex.Decode(claimed[:], unsafeBytes(h)); err != nil {
		return "", &Error{IncompleteSignature, msgContentBad}
	}
	// A signed hash that does not cover the body would let the body be swapped.
	if sum := sha256.Sum256(body); sum != claimed {
		return "", &Error{SignatureMismatch, msgContentHash}
	}
	return h, nil
}

// unescapeQuery decodes like url.QueryUnescape; used on the presigned path.
func unescapeQuery(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, true
	}
	u, err := url.QueryUnescape(s)
	return u, err == nil
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// release returns sc to the pool unless one huge request grew it; pooled
// memory should stay proportional to ordinary requests.
func (sc *scratch) release() {
	if cap(sc.buf) > 64<<10 || cap(sc.pairs) > 1024 {
		return
	}
	scratchPool.Put(sc)
}
