package registry

import (
	"bytes"
	"encoding/json"
	"mime"
	"strconv"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// Manifest media types the registry accepts.
const (
	MediaTypeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex       = "application/vnd.oci.image.index.v1+json"
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// Descriptor points at content (OCI descriptor).
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	URLs         []string          `json:"urls,omitempty"`
	Platform     json.RawMessage   `json:"platform,omitempty"`
}

// manifest is the union of the fields of image manifests and indexes that
// the registry looks at.
type manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        *Descriptor       `json:"config,omitempty"`
	Layers        []Descriptor      `json:"layers,omitempty"`
	Manifests     []Descriptor      `json:"manifests,omitempty"`
	Subject       *Descriptor       `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

func isIndexType(mt string) bool { return mt == MediaTypeOCIIndex || mt == MediaTypeDockerList }

func isManifestType(mt string) bool {
	switch mt {
	case MediaTypeOCIManifest, MediaTypeOCIIndex, MediaTypeDockerManifest, MediaTypeDockerList:
		return true
	}
	return false
}

func manifestInvalid(format string, args ...any) error {
	return errdefs.Newf(ErrManifestInvalid, format, args...)
}

// parseManifest decodes and validates a manifest pushed with Content-Type
// contentType (may be empty or generic), returning it with its effective
// media type.
func parseManifest(contentType string, b []byte) (manifest, string, error) {
	var m manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return manifest{}, "", manifestInvalid("Invalid JSON syntax: %s", truncate(err.Error(), 200))
	}
	if dec.More() {
		return manifest{}, "", manifestInvalid("Invalid JSON syntax: trailing data after the manifest")
	}
	if m.SchemaVersion != 2 {
		return manifest{}, "", manifestInvalid("Invalid parameter: schemaVersion must be 2 (schema 1 manifests are not supported)")
	}
	mt := ""
	if contentType != "" {
		if parsed, _, err := mime.ParseMediaType(contentType); err == nil {
			mt = parsed
		} else {
			return manifest{}, "", manifestInvalid("Invalid Content-Type '%s'", truncate(contentType, 100))
		}
	}
	switch {
	case isManifestType(mt):
		if m.MediaType != "" && m.MediaType != mt {
			return manifest{}, "", manifestInvalid("Manifest media type '%s' does not match the Content-Type '%s'", truncate(m.MediaType, 100), mt)
		}
	case mt == "" || mt == "application/json" || mt == "application/octet-stream":
		mt = m.MediaType
		if mt == "" {
			if m.Manifests != nil {
				mt = MediaTypeOCIIndex
			} else {
				mt = MediaTypeOCIManifest
			}
		}
		if !isManifestType(mt) {
			return manifest{}, "", manifestInvalid("Unsupported manifest media type '%s'", truncate(mt, 100))
		}
	default:
		return manifest{}, "", manifestInvalid("Unsupported manifest media type '%s'", truncate(mt, 100))
	}
	if isIndexType(mt) {
		if m.Config != nil || len(m.Layers) > 0 {
			return manifest{}, "", manifestInvalid("An image index cannot have config or layers")
		}
		for i, d := range m.Manifests {
			if err := checkDescriptor(d, "manifests", i); err != nil {
				return manifest{}, "", err
			}
		}
	} else {
		if m.Manifests != nil {
			return manifest{}, "", manifestInvalid("An image manifest cannot have manifests")
		}
		if m.Config == nil {
			return manifest{}, "", manifestInvalid("The image manifest has no config")
		}
		if err := checkDescriptor(*m.Config, "config", -1); err != nil {
			return manifest{}, "", err
		}
		for i, d := range m.Layers {
			if err := checkDescriptor(d, "layers", i); err != nil {
				return manifest{}, "", err
			}
		}
	}
	if m.Subject != nil {
		if err := checkDescriptor(*m.Subject, "subject", -1); err != nil {
			return manifest{}, "", err
		}
	}
	return m, mt, nil
}

func checkDescriptor(d Descriptor, field string, i int) error {
	where := field
	if i >= 0 {
		where = field + "[" + strconv.Itoa(i) + "]"
	}
	if err := ValidateDigest(d.Digest); err != nil {
		return manifestInvalid("Invalid digest '%s' in %s", truncate(d.Digest, 150), where)
	}
	if d.Size < 0 {
		return manifestInvalid("Invalid negative size in %s", where)
	}
	if d.MediaType == "" {
		return manifestInvalid("Missing mediaType in %s", where)
	}
	return nil
}
