// Command wiregen generates Go wire types from a botocore service model
// (service-2.json): one struct per structure shape, enum constants, the
// service's metadata, its operation and error tables, NewInput and NewOutput. The
// generated code is committed; `go generate ./internal/api/...` (make
// generate) refreshes it, and a test fails when it is stale.
//
//	go run ./internal/tools/wiregen -model third_party/aws-models/ecs/service-2.json -pkg ecswire -out internal/api/ecswire/zz_generated.go
//
// The models are in the repository, in third_party/aws-models (see its
// README.md). A relative -model path that does not exist as given is looked
// up relative to each parent of the working directory up to the module
// root, so both the go:generate lines' paths (relative to their package
// directory) and the repository-root form third_party/aws-models/... work.
//
// Conventions (the API adapters rely on them):
//   - every structure shape (unions too) is an exported struct named after
//     the shape; a name that collides with a generated identifier (Operations,
//     Errors, NewInput, the metadata constants) gets a "Shape" suffix;
//   - scalars are pointers (*string, *int32, *int64, *bool, *float64,
//     *float32, *wire.Timestamp), blobs []byte, documents json.RawMessage;
//   - nested structures are pointers, lists are slices of values, maps are
//     map[string]V;
//   - tags are `json:"member,omitempty" xml:"member,omitempty"` (jsonName
//     and locationName win); the query protocols' lists wrap their items in
//     <member>, and maps are xml:"-";
//   - the top-level lists of an operation's output shape have no omitempty
//     and the shape gets a SetEmptyLists method that makes nil ones empty,
//     which the router calls before encoding: AWS always returns them
//     (ListTasks answers {"taskArns":[]}), while it leaves out nested
//     optional members, which keep omitempty;
//   - enum values are untyped string constants <Shape><Value>
//     (LaunchTypeFargate = "FARGATE");
//   - timestampFormat is rejected: none of our models uses it.
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
	m, err := loadModel(modelPath)
	if err != nil {
		return err
	}
	src, err := Generate(m, pkg)
	if err != nil {
		return fmt.Errorf("%s: %w", modelPath, err)
	}
	return os.WriteFile(out, src, 0o644)
}

// loadModel finds and decodes a service model.
func loadModel(modelPath string) (*Model, error) {
	path, err := findModel(modelPath)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Model
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}

// findModel returns p if it exists, else p relative to the nearest parent
// of the working directory, up to the module root (the directory holding
// go.mod), where it exists.
func findModel(p string) (string, error) {
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if filepath.IsAbs(p) {
		return "", fmt.Errorf("model %s not found", p)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if c := filepath.Join(d, p); exists(c) {
			return c, nil
		}
		if exists(filepath.Join(d, "go.mod")) || filepath.Dir(d) == d {
			return "", fmt.Errorf("model %s not found (from %s)", p, dir)
		}
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
