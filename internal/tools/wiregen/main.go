// Command wiregen generates Go wire types from a botocore service model
// (service-2.json): one struct per structure shape, enum constants, the
// service's metadata, and its operation and error tables. The generated
// code is committed; `go generate ./internal/api/...` refreshes it.
//
//	go run ./internal/tools/wiregen -model ../shared/aws-models/ecs/service-2.json -pkg ecswire -out zz_generated.go
//
// Conventions (the API adapters rely on them):
//   - scalars are pointers (*string, *int32, *int64, *bool, *float64,
//     *float32, *wire.Timestamp), blobs []byte, documents json.RawMessage;
//   - nested structures are pointers, lists are slices of values, maps are
//     map[string]V;
//   - tags are `json:"member,omitempty" xml:"member,omitempty"` (query
//     protocols' lists wrap their items in <member>).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	model := flag.String("model", "", "path to service-2.json")
	pkg := flag.String("pkg", "", "Go package name")
	out := flag.String("out", "zz_generated.go", "output file")
	flag.Parse()
	if err := run(*model, *pkg, *out); err != nil {
		fmt.Fprintln(os.Stderr, "wiregen:", err)
		os.Exit(1)
	}
}

func run(modelPath, pkg, out string) error {
	if modelPath == "" || pkg == "" {
		return fmt.Errorf("-model and -pkg are required")
	}
	path, err := findModel(modelPath)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var m Model
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	src, err := Generate(&m, pkg)
	if err != nil {
		return err
	}
	return os.WriteFile(out, src, 0o644)
}

// findModel accepts the path as given, or relative to any parent directory
// (so that both ../shared/aws-models from the repository root and the
// relative path of a go:generate line work).
func findModel(p string) (string, error) {
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	dir, _ := os.Getwd()
	for {
		c := filepath.Join(dir, p)
		if _, err := os.Stat(c); err == nil {
			return c, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("model %s not found", p)
		}
		dir = parent
	}
}
