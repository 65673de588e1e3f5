package registry

import (
	"strings"
	"testing"
)

// FuzzParseManifest: never panics; an accepted manifest has a supported
// media type and valid descriptors.
func FuzzParseManifest(f *testing.F) {
	cfg := `{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","size":2}`
	f.Add("", `{"schemaVersion":2,"config":`+cfg+`,"layers":[`+cfg+`]}`)
	f.Add(MediaTypeOCIIndex, `{"schemaVersion":2,"manifests":[`+cfg+`]}`)
	f.Add(MediaTypeDockerManifest, `{"schemaVersion":2,"mediaType":"`+MediaTypeDockerManifest+`","config":`+cfg+`}`)
	f.Add("application/json", `{"schemaVersion":2,"config":`+cfg+`,"subject":`+cfg+`}`)
	f.Add("", `{"schemaVersion":1}`)
	f.Add("text/plain; x", `[]`)
	f.Fuzz(func(t *testing.T, contentType, body string) {
		m, mt, err := parseManifest(contentType, []byte(body))
		if err != nil {
			return
		}
		if !isManifestType(mt) {
			t.Fatalf("accepted media type %q", mt)
		}
		img := Image{Config: m.Config, Layers: m.Layers, Manifests: m.Manifests}
		for _, d := range append(img.blobDigests(), digestsOf(m.Manifests)...) {
			if ValidateDigest(d) != nil {
				t.Fatalf("accepted digest %q", d)
			}
		}
	})
}

func digestsOf(ds []Descriptor) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Digest)
	}
	return out
}

// FuzzLifecyclePolicy: any policy text is either rejected with a
// lifecycle-policy error or parsed into rules in priority order, never a
// panic; parsing is deterministic.
func FuzzLifecyclePolicy(f *testing.F) {
	for _, s := range []string{
		`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"}}]}`,
		`{"rules":[{"rulePriority":2,"selection":{"tagStatus":"tagged","tagPatternList":["*a*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}`,
		`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},` +
			`{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`,
		`{"rules":`, `[]`, `{"rules":[{}]}`, `{"rules":[{"rulePriority":1e400}]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		rules, err := parseLifecyclePolicy(text)
		if err != nil {
			if ValidateLifecyclePolicy(text) == nil {
				t.Fatalf("%q: parse failed (%v) but validation passed", text, err)
			}
			return
		}
		if len(rules) == 0 {
			t.Fatalf("%q: a valid policy without rules", text)
		}
		again, err := parseLifecyclePolicy(text)
		if err != nil || len(again) != len(rules) {
			t.Fatalf("%q: parsed %d rules, then %d, %v", text, len(rules), len(again), err)
		}
	})
}
