package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

// flavor selects the client dialect of canonicalization (see package doc).
type flavor uint8

const (
	flavorSDK      flavor = iota // aws-sdk-go-v2, aws-sdk-java, the AWS CLI v2 core
	flavorBotocore               // botocore: normalized path, all whitespace collapsed
)

// scratch is per-call working memory, pooled so that a verification
// allocates next to nothing.
type scratch struct {
	buf   []byte
	pairs []qpair
	hash  [2 * sha256.Size]byte // hex payload hash
}

// qpair is one query parameter: raw as on the wire, and canonical (decoded,
// then RFC 3986-encoded). The canonical strings alias the raw query when it
// was already canonical, which is the common case.
type qpair struct {
	rawVal   string
	key, val string
}

func (sc *scratch) reset() {
	sc.buf = sc.buf[:0]
	clear(sc.pairs) // drop references to old requests
	sc.pairs = sc.pairs[:0]
}

// parseQuery splits the raw query the way url.ParseQuery does (which is what
// aws-sdk-go-v2 signs): pairs containing ';' or failing to unescape are
// skipped, '+' means space.
func parseQuery(raw string, sc *scratch) {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" || strings.IndexByte(pair, ';') >= 0 {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		ck, ok := canonicalComponent(k)
		if !ok {
			continue
		}
		cv, ok := canonicalComponent(v)
		if !ok {
			continue
		}
		sc.pairs = append(sc.pairs, qpair{rawVal: v, key: ck, val: cv})
	}
}

// queryValue returns the decoded value of the first parameter called name.
// name must consist of unreserved characters only.
func (sc *scratch) queryValue(name string) (string, bool) {
	for i := range sc.pairs {
		if sc.pairs[i].key == name {
			return unescapeQuery(sc.pairs[i].rawVal)
		}
	}
	return "", false
}

func (sc *scratch) hasQuery(name string) bool {
	for i := range sc.pairs {
		if sc.pairs[i].key == name {
			return true
		}
	}
	return false
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// canonicalComponent returns the SigV4 encoding of a raw query component:
// decode (%XX, '+' as space), then encode every byte outside A-Za-z0-9-._~
// as uppercase %XX. ok is false when the component does not decode.
func canonicalComponent(s string) (string, bool) {
	canonical := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			continue
		}
		if c == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", false
			}
			d := hi<<4 | lo
			// Already canonical only if uppercase and really needing escape.
			if unreserved(d) || s[i+1] >= 'a' || s[i+2] >= 'a' {
				canonical = false
			}
			i += 2
			continue
		}
		canonical = false
		if c == '%' { // truncated escape
			return "", false
		}
	}
	if canonical {
		return s, true
	}
	d, err := url.QueryUnescape(s)
	if err != nil {
		return "", false
	}
	return string(appendEscaped(make([]byte, 0, len(d)*3), d, false)), true
}

const upperhex = "0123456789ABCDEF"

// appendEscaped percent-encodes every byte outside the unreserved set
// (and '/' too unless keepSlash).
func appendEscaped(b []byte, s string, keepSlash bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || keepSlash && c == '/' {
			b = append(b, c)
		} else {
			b = append(b, '%', upperhex[c>>4], upperhex[c&15])
		}
	}
	return b
}

// wirePath is the path exactly as the client sent it, still percent-encoded.
// RequestURI is authoritative on a server (and survives prefix stripping);
// requests built in-process fall back to the URL, as the SDK signer does.
func wirePath(r *http.Request) string {
	if u := r.RequestURI; u != "" && u[0] == '/' {
		if i := strings.IndexByte(u, '?'); i >= 0 {
			u = u[:i]
		}
		return u
	}
	if r.URL != nil {
		if r.URL.Opaque != "" {
			// Same rule as the SDK's GetURIPath for opaque URLs.
			o := r.URL.Opaque
			o = strings.TrimPrefix(o, "//")
			if i := strings.IndexByte(o, '/'); i >= 0 {
				return o[i:]
			}
			return "/"
		}
		if p := r.URL.EscapedPath(); p != "" {
			return p
		}
	}
	return "/"
}

// removeDotSegments is botocore's normalize_url_path: RFC 3986 dot-segment
// removal that also drops empty segments, keeping a leading and trailing '/'.
func removeDotSegments(p string) string {
	if p == "" {
		return "/"
	}
	var out []string
	rest := p
	for rest != "" {
		var seg string
		seg, rest, _ = strings.Cut(rest, "/")
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	var b strings.Builder
	if p[0] == '/' {
		b.WriteByte('/')
	}
	b.WriteString(strings.Join(out, "/"))
	if p[len(p)-1] == '/' && len(out) > 0 {
		b.WriteByte('/')
	}
	return b.String()
}

func pathNeedsNormalizing(p string) bool {
	return strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../") ||
		strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..") || p == "" || p[0] != '/'
}

// botocoreDiffers reports whether the botocore flavor could produce a
// different canonical request than the SDK flavor for r.
func botocoreDiffers(r *http.Request, signed string) bool {
	if pathNeedsNormalizing(wirePath(r)) {
		return true
	}
	for signed != "" {
		var name string
		name, signed, _ = strings.Cut(signed, ";")
		for _, v := range headerValues(r, name) {
			for i := 0; i < len(v); i++ {
				if c := v[i]; c != ' ' && isSpace(c) {
					return true
				}
			}
		}
	}
	return false
}

// isSpace is Python's str.split() whitespace in the ASCII range.
func isSpace(c byte) bool {
	return c == ' ' || '\t' <= c && c <= '\r' || 0x1c <= c && c <= 0x1f
}

// headerValues finds a header case-insensitively without allocating.
func headerValues(r *http.Request, name string) []string {
	var kb [128]byte
	if len(name) <= len(kb) {
		upper := true
		for i := 0; i < len(name); i++ {
			c := name[i]
			if upper && 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			} else if !upper && 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			kb[i] = c
			upper = c == '-'
		}
		if vs, ok := r.Header[string(kb[:len(name)])]; ok {
			return vs
		}
	}
	for k, vs := range r.Header { // non-canonical keys set in-process
		if strings.EqualFold(k, name) {
			return vs
		}
	}
	return nil
}

// appendValue writes a header value trimmed with inner space runs collapsed
// (SDK: spaces only; botocore: every whitespace run becomes one space).
func appendValue(b []byte, v string, fl flavor) []byte {
	space := func(c byte) bool { return c == ' ' }
	if fl == flavorBotocore {
		space = isSpace
	}
	v = strings.TrimSpace(v)
	pending := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if space(c) {
			pending = true
			continue
		}
		if pending {
			b = append(b, ' ')
			pending = false
		}
		b = append(b, c)
	}
	return b
}

func appendHeaders(b []byte, r *http.Request, signed string, fl flavor) []byte {
	for signed != "" {
		var name string
		name, signed, _ = strings.Cut(signed, ";")
		b = append(b, name...)
		b = append(b, ':')
		switch {
		case strings.EqualFold(name, "host"):
			host := r.Host
			if host == "" && r.URL != nil {
				host = r.URL.Host
			}
			b = appendValue(b, host, fl)
		default:
			vs := headerValues(r, name)
			if vs == nil && strings.EqualFold(name, "content-length") && r.ContentLength > 0 {
				// net/http moves Content-Length out of Header on requests built in-process.
				b = strconv.AppendInt(b, r.ContentLength, 10)
			}
			for i, v := range vs {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendValue(b, v, fl)
			}
		}
		b = append(b, '\n')
	}
	return b
}

func appendQuery(b []byte, sc *scratch, presigned bool) []byte {
	slices.SortFunc(sc.pairs, func(x, y qpair) int {
		if c := strings.Compare(x.key, y.key); c != 0 {
			return c
		}
		return strings.Compare(x.val, y.val)
	})
	first := true
	for _, p := range sc.pairs {
		if presigned && p.key == "X-Amz-Signature" {
			continue
		}
		if !first {
			b = append(b, '&')
		}
		first = false
		b = append(b, p.key...)
		b = append(b, '=')
		b = append(b, p.val...)
	}
	return b
}

// signature computes HMAC-SHA256(key, string to sign) for r. HMAC is
// written out over the pooled buffer so that the hot path does not allocate.
func signature(sc *scratch, key *[sha256.Size]byte, r *http.Request, p authParams, scope, payloadHash string, fl flavor) [sha256.Size]byte {
	b := sc.buf[:0]
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	b = append(b, method...)
	b = append(b, '\n')
	path := wirePath(r)
	if fl == flavorBotocore {
		path = removeDotSegments(path)
	}
	b = appendEscaped(b, path, true)
	b = append(b, '\n')
	b = appendQuery(b, sc, p.presigned)
	b = append(b, '\n')
	b = appendHeaders(b, r, p.signedHeaders, fl)
	b = append(b, '\n')
	b = append(b, p.signedHeaders...)
	b = append(b, '\n')
	b = append(b, payloadHash...)
	canon := sha256.Sum256(b)

	// inner = sha256((key ^ ipad) || string to sign)
	b = b[:0]
	for i := 0; i < 64; i++ {
		k := byte(0)
		if i < len(key) {
			k = key[i]
		}
		b = append(b, k^0x36)
	}
	b = append(b, algorithm...)
	b = append(b, '\n')
	b = append(b, p.amzDate...)
	b = append(b, '\n')
	b = append(b, scope...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, canon[:])
	inner := sha256.Sum256(b)

	// outer = sha256((key ^ opad) || inner)
	b = b[:0]
	for i := 0; i < 64; i++ {
		k := byte(0)
		if i < len(key) {
			k = key[i]
		}
		b = append(b, k^0x5c)
	}
	b = append(b, inner[:]...)
	sc.buf = b
	return sha256.Sum256(b)
}

// unsafeBytes views s as bytes for read-only use (hex decoding).
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// unsafeString views b as a string; b must not change while it is used.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
