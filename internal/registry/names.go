package registry

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"regexp"
	"strings"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// RepositoryNamePattern is ECR's repository name pattern, as the model's
// RepositoryName shape spells it (aws-api.md §4.2); error messages quote it.
// Components start and end with [a-z0-9], so "..", "./" and empty
// components never match.
const RepositoryNamePattern = `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`

var repoNameRE = regexp.MustCompile(`^(?:` + RepositoryNamePattern + `)$`)

// OCI tag grammar (distribution-spec: at most 128 characters).
var tagRE = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

// ValidateRepositoryName returns an ErrNameInvalid error unless name is a
// valid ECR repository name (2–256 characters, ECR's pattern).
func ValidateRepositoryName(name string) error {
	if len(name) < 2 || len(name) > 256 || !repoNameRE.MatchString(name) {
		return nameInvalid(name)
	}
	return nil
}

// ValidateTag returns an ErrReferenceInvalid error unless tag is a valid tag.
func ValidateTag(tag string) error {
	if !tagRE.MatchString(tag) {
		return errdefs.Newf(ErrReferenceInvalid, "Invalid parameter at 'imageTag' failed to satisfy constraint: '%s' is not a valid tag", tag)
	}
	return nil
}

// digest is "<algorithm>:<hex>" with the algorithms fargo accepts.
type digestAlgo struct {
	name   string
	hexLen int
	newFn  func() hash.Hash
}

var digestAlgos = []digestAlgo{
	{"sha256", 64, sha256.New},
	{"sha512", 128, sha512.New},
}

// ValidateDigest returns an ErrDigestInvalid error unless d is a well-formed
// sha256 or sha512 digest with lowercase hex.
func ValidateDigest(d string) error {
	_, _, err := parseDigest(d)
	return err
}

func parseDigest(d string) (algo digestAlgo, hexPart string, err error) {
	name, hexPart, ok := strings.Cut(d, ":")
	if ok {
		for _, a := range digestAlgos {
			if a.name == name && len(hexPart) == a.hexLen && isLowerHex(hexPart) {
				return a, hexPart, nil
			}
		}
	}
	return digestAlgo{}, "", errdefs.Newf(ErrDigestInvalid, "Invalid digest '%s': expected sha256:<64 hex> or sha512:<128 hex>", truncate(d, 200))
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// ImageID names an image by digest, tag, or both (as ECR's imageId).
type ImageID struct {
	Digest string `json:"imageDigest,omitempty"`
	Tag    string `json:"imageTag,omitempty"`
}

// ParseReference turns a manifest reference (a tag or a digest) into an
// ImageID, validating it.
func ParseReference(ref string) (ImageID, error) {
	if strings.Contains(ref, ":") {
		if err := ValidateDigest(ref); err != nil {
			return ImageID{}, err
		}
		return ImageID{Digest: ref}, nil
	}
	if err := ValidateTag(ref); err != nil {
		return ImageID{}, err
	}
	return ImageID{Tag: ref}, nil
}

// algoByName returns the supported digest algorithm called name.
func algoByName(name string) (digestAlgo, bool) {
	for _, a := range digestAlgos {
		if a.name == name {
			return a, true
		}
	}
	return digestAlgo{}, false
}

// computeDigest returns the digest of b with the algorithm of like, a
// digest or "<algorithm>:" (sha256 when like is empty or names none).
func computeDigest(b []byte, like string) string {
	a := digestAlgos[0]
	name, _, _ := strings.Cut(like, ":")
	if pa, ok := algoByName(name); ok {
		a = pa
	}
	h := a.newFn()
	h.Write(b)
	return a.name + ":" + hex.EncodeToString(h.Sum(nil))
}
