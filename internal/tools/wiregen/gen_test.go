package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/printer"
	"go/token"
	"go/types"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// models maps each generated package to its model directory.
var models = map[string]string{
	"ecswire": "ecs", "ecrwire": "ecr", "logswire": "logs", "elbv2wire": "elbv2",
	"servicediscoverywire": "servicediscovery", "autoscalingwire": "application-autoscaling",
	"cloudwatchwire": "cloudwatch", "stswire": "sts",
}

// apiDir is internal/api, seen from this package.
var apiDir = filepath.Join("..", "..", "api")

// modelsDir is third_party/aws-models, seen from this package: the models
// are in the repository, so a missing one is a failure.
var modelsDir = filepath.Join("..", "..", "..", "third_party", "aws-models")

func testModel(t *testing.T, dir string) *Model {
	t.Helper()
	m, err := loadModel(filepath.Join(modelsDir, dir, "service-2.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// generateArgs returns the wiregen flags of the go:generate line in a
// package's doc.go.
func generateArgs(t *testing.T, pkgDir string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(pkgDir, "doc.go"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "//go:generate go run ../../tools/wiregen ")
		if !ok {
			continue
		}
		words := strings.Fields(rest)
		args := map[string]string{}
		for i := 0; i+1 < len(words); i += 2 {
			args[words[i]] = words[i+1]
		}
		return args
	}
	t.Fatalf("%s/doc.go has no go:generate line running wiregen", pkgDir)
	return nil
}

// TestGeneratedCodeIsUpToDate runs each package's go:generate line (from
// doc.go, in the package directory, writing to a temporary directory) and
// compares the result with the committed zz_generated.go.
func TestGeneratedCodeIsUpToDate(t *testing.T) {
	for _, pkg := range slices.Sorted(maps.Keys(models)) {
		t.Run(pkg, func(t *testing.T) {
			pkgDir, err := filepath.Abs(filepath.Join(apiDir, pkg))
			if err != nil {
				t.Fatal(err)
			}
			args := generateArgs(t, pkgDir)
			if args["-pkg"] != pkg || args["-out"] != "zz_generated.go" {
				t.Fatalf("doc.go: go:generate flags %v, want -pkg %s -out zz_generated.go", args, pkg)
			}
			wantModel := "../../../third_party/aws-models/" + models[pkg] + "/service-2.json"
			if args["-model"] != wantModel {
				t.Fatalf("doc.go: -model %s, want %s", args["-model"], wantModel)
			}
			if _, err := os.Stat(filepath.Join(pkgDir, filepath.FromSlash(args["-model"]))); err != nil {
				t.Fatal(err)
			}
			t.Chdir(pkgDir)
			out := filepath.Join(t.TempDir(), args["-out"])
			if err := run(args["-model"], pkg, out); err != nil {
				t.Fatal(err)
			}
			fresh, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			committed, err := os.ReadFile("zz_generated.go")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(fresh, committed) {
				t.Fatalf("internal/api/%s/zz_generated.go is stale: run make generate", pkg)
			}
		})
	}
}

// TestFindModelFromRepositoryRoot: the models resolve from the repository
// root form too.
func TestFindModelFromRepositoryRoot(t *testing.T) {
	for _, p := range []string{"third_party/aws-models/sts/service-2.json", "../../../third_party/aws-models/sts/service-2.json"} {
		if _, err := findModel(p); err != nil {
			t.Errorf("findModel(%s): %v", p, err)
		}
	}
	if _, err := findModel("third_party/aws-models/nope/service-2.json"); err == nil {
		t.Error("findModel found a model that does not exist")
	}
}

// TestModelsAreInTheRepository: every model directory is used, and the
// models come with their licence.
func TestModelsAreInTheRepository(t *testing.T) {
	for _, name := range []string{"LICENSE", "README.md"} {
		if _, err := os.Stat(filepath.Join(modelsDir, name)); err != nil {
			t.Error(err)
		}
	}
	entries, err := os.ReadDir(modelsDir)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	if want := slices.Sorted(maps.Values(models)); !slices.Equal(dirs, want) {
		t.Errorf("model directories %v, want %v", dirs, want)
	}
}

// field returns the type and tag of a struct field in generated source.
func field(t *testing.T, src []byte, typeName, fieldName string) (typ, tag string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "zz_generated.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != typeName {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return false
		}
		for _, fl := range st.Fields.List {
			for _, name := range fl.Names {
				if name.Name != fieldName {
					continue
				}
				var b bytes.Buffer
				if err := printer.Fprint(&b, fset, fl.Type); err != nil {
					t.Fatal(err)
				}
				typ, found = b.String(), true
				if fl.Tag != nil {
					tag, _ = strconv.Unquote(fl.Tag.Value)
				}
			}
		}
		return false
	})
	if !found {
		t.Fatalf("generated code has no field %s.%s", typeName, fieldName)
	}
	return typ, tag
}

func TestECSShapes(t *testing.T) {
	src, err := Generate(testModel(t, "ecs"), "ecswire")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ typ, field, want, tag string }{
		{"RegisterTaskDefinitionRequest", "Family", "*string", `json:"family,omitempty" xml:"family,omitempty"`},
		{"RegisterTaskDefinitionRequest", "ContainerDefinitions", "[]ContainerDefinition", `json:"containerDefinitions,omitempty" xml:"containerDefinitions,omitempty"`},
		{"PortMapping", "HostPort", "*int32", `json:"hostPort,omitempty" xml:"hostPort,omitempty"`},
		{"Deployment", "FailedTasks", "*int32", `json:"failedTasks,omitempty" xml:"failedTasks,omitempty"`},
		{"TaskDefinition", "RegisteredAt", "*wire.Timestamp", ""},
		{"TaskDefinition", "Cpu", "*string", ""},
		{"Task", "Overrides", "*TaskOverride", ""},
		{"ContainerDefinition", "DockerLabels", "map[string]string", `json:"dockerLabels,omitempty" xml:"-"`},
		{"ContainerDefinition", "Essential", "*bool", ""},
		{"DeploymentLifecycleHook", "HookDetails", "json.RawMessage", ""},
		// Top-level lists of outputs are always present; nested ones stay optional.
		{"ListTasksResponse", "TaskArns", "[]string", `json:"taskArns" xml:"taskArns,omitempty"`},
		{"DescribeTasksResponse", "Failures", "[]Failure", `json:"failures" xml:"failures,omitempty"`},
		{"Task", "Containers", "[]Container", `json:"containers,omitempty" xml:"containers,omitempty"`},
	} {
		typ, tag := field(t, src, tc.typ, tc.field)
		if typ != tc.want || tc.tag != "" && tag != tc.tag {
			t.Errorf("%s.%s = %s `%s`, want %s `%s`", tc.typ, tc.field, typ, tag, tc.want, tc.tag)
		}
	}
	text := string(bytes.Join(bytes.Fields(src), []byte(" ")))
	for _, want := range []string{
		`LaunchTypeFargate = "FARGATE"`,
		`TaskDefinitionStatusActive = "ACTIVE"`,
		`TargetPrefix = "AmazonEC2ContainerServiceV20141113"`,
		`"RunTask": {Input: "RunTaskRequest", Output: "RunTaskResponse",`,
		`case "RunTask": return new(RunTaskRequest)`,
		`case "RunTask": return new(RunTaskResponse)`,
		`func (v *ListTasksResponse) SetEmptyLists() { if v.TaskArns == nil { v.TaskArns = []string{} } }`,
		`"ClusterNotFoundException": {Status: 400, Code: "ClusterNotFoundException", Fault: false}`,
		`"ServerException": {Status: 500, Code: "ServerException", Fault: true}`,
		`import ( "encoding/json"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("generated ECS code lacks %q", want)
		}
	}
	if strings.Contains(text, "type HookDetails struct") {
		t.Error("the document shape HookDetails became a struct")
	}
}

func TestQueryProtocols(t *testing.T) {
	for _, tc := range []struct{ pkg, typ, field, tag string }{
		{"elbv2wire", "DescribeLoadBalancersOutput", "LoadBalancers", `json:"LoadBalancers" xml:"LoadBalancers>member,omitempty"`},
		{"elbv2wire", "AuthenticateOidcActionConfig", "AuthenticationRequestExtraParams", `json:"AuthenticationRequestExtraParams,omitempty" xml:"-"`},
		{"cloudwatchwire", "MetricAlarm", "AlarmActions", `json:"AlarmActions,omitempty" xml:"AlarmActions>member,omitempty"`},
		{"stswire", "GetCallerIdentityResponse", "Account", `json:"Account,omitempty" xml:"Account,omitempty"`},
	} {
		src, err := Generate(testModel(t, models[tc.pkg]), tc.pkg)
		if err != nil {
			t.Fatal(err)
		}
		if _, tag := field(t, src, tc.typ, tc.field); tag != tc.tag {
			t.Errorf("%s.%s.%s tag `%s`, want `%s`", tc.pkg, tc.typ, tc.field, tag, tc.tag)
		}
		if !bytes.Contains(src, []byte(`ResultWrapper: "`)) {
			t.Errorf("%s: no ResultWrapper in Operations", tc.pkg)
		}
	}
}

// edgeModel exercises naming collisions, sanitising and every shape type.
const edgeModel = `{
 "metadata": {"apiVersion": "2020-01-01", "endpointPrefix": "edge", "protocol": "query", "serviceId": "Edge"},
 "operations": {
  "Operations": {"input": {"shape": "Operations"}, "output": {"shape": "Errors", "resultWrapper": "OperationsResult"}, "errors": [{"shape": "Boom"}]},
  "Ping": {"endpoint": {"hostPrefix": "data-"}}
 },
 "shapes": {
  "Operations": {"type": "structure", "members": {"self": {"shape": "Operations"}, "doc": {"shape": "Doc"}, "u": {"shape": "Choice"}}},
  "Errors": {"type": "structure", "members": {"type": {"shape": "String"}, "x-y": {"shape": "Integer", "locationName": "XY"}, "XY": {"shape": "Long"}, "xY": {"shape": "Boolean", "jsonName": "xy"}}},
  "String": {"type": "string"},
  "Integer": {"type": "integer"},
  "Long": {"type": "long"},
  "Error": {"type": "structure", "members": {"when": {"shape": "Timestamp"}, "raw": {"shape": "Blob"}, "f": {"shape": "Float"}, "d": {"shape": "Double"}, "b": {"shape": "Boolean"}}},
  "Timestamp": {"type": "timestamp"},
  "Blob": {"type": "blob"},
  "Float": {"type": "float"},
  "Double": {"type": "double"},
  "Boolean": {"type": "boolean"},
  "Doc": {"type": "structure", "members": {}, "document": true},
  "Choice": {"type": "structure", "union": true, "members": {"grid": {"shape": "Grid"}, "flat": {"shape": "FlatList"}, "named": {"shape": "NamedList"}, "tags": {"shape": "TagMap"}}},
  "Grid": {"type": "list", "member": {"shape": "Row"}},
  "Row": {"type": "list", "member": {"shape": "Integer"}},
  "FlatList": {"type": "list", "member": {"shape": "Error"}, "flattened": true},
  "NamedList": {"type": "list", "member": {"shape": "String", "locationName": "item"}},
  "TagMap": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "Error"}},
  "Mode": {"type": "string", "enum": ["a-b", "a_b", "AB", "*", ""]},
  "NewInput": {"type": "structure", "members": {}},
  "newInput": {"type": "structure", "members": {}},
  "_private": {"type": "structure", "members": {}},
  "9lives": {"type": "structure", "members": {}},
  "Boom": {"type": "structure", "members": {}, "exception": true, "fault": true, "error": {"code": "Kaboom", "httpStatusCode": 503}},
  "Oops": {"type": "structure", "members": {}, "exception": true}
 }
}`

func TestEdgeCases(t *testing.T) {
	var m Model
	if err := json.Unmarshal([]byte(edgeModel), &m); err != nil {
		t.Fatal(err)
	}
	src, err := Generate(&m, "edgewire")
	if err != nil {
		t.Fatal(err)
	}
	pkg := typeCheck(t, src)
	names := pkg.Scope().Names()
	for _, want := range []string{
		"OperationsShape", "ErrorsShape", "NewInputShape", "NewInputShape2", "Error", "X_private", "X9lives",
		"ModeAB", "ModeAB2", "ModeAb", "ModeEmpty", "ModeEmpty2",
		"Operations", "Errors", "NewInput", "Protocol",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("no %s among %v", want, names)
		}
	}
	for _, unwanted := range []string{"String", "Integer", "Doc", "Timestamp"} {
		if slices.Contains(names, unwanted) {
			t.Errorf("%s was emitted", unwanted)
		}
	}
	for _, tc := range []struct{ typ, field, want, tag string }{
		{"OperationsShape", "Self", "*OperationsShape", `json:"self,omitempty" xml:"self,omitempty"`},
		{"OperationsShape", "Doc", "json.RawMessage", ""},
		{"OperationsShape", "U", "*Choice", ""},
		{"ErrorsShape", "Type", "*string", ""},
		{"ErrorsShape", "Xy", "*int32", `json:"x-y,omitempty" xml:"XY,omitempty"`},
		{"ErrorsShape", "XY", "*int64", `json:"XY,omitempty" xml:"XY,omitempty"`},
		{"ErrorsShape", "XY_", "*bool", `json:"xy,omitempty" xml:"xY,omitempty"`},
		{"Error", "When", "*wire.Timestamp", ""},
		{"Error", "Raw", "[]byte", ""},
		{"Error", "F", "*float32", ""},
		{"Error", "D", "*float64", ""},
		{"Error", "B", "*bool", ""},
		{"Choice", "Grid", "[][]int32", `json:"grid,omitempty" xml:"grid>member,omitempty"`},
		{"Choice", "Flat", "[]Error", `json:"flat,omitempty" xml:"flat,omitempty"`},
		{"Choice", "Named", "[]string", `json:"named,omitempty" xml:"named>item,omitempty"`},
		{"Choice", "Tags", "map[string]Error", `json:"tags,omitempty" xml:"-"`},
	} {
		typ, tag := field(t, src, tc.typ, tc.field)
		if typ != tc.want || tc.tag != "" && tag != tc.tag {
			t.Errorf("%s.%s = %s `%s`, want %s `%s`", tc.typ, tc.field, typ, tag, tc.want, tc.tag)
		}
	}
	text := string(bytes.Join(bytes.Fields(src), []byte(" ")))
	for _, want := range []string{
		`"Boom": {Status: 503, Code: "Kaboom", Fault: true}`,
		`"Oops": {Status: 400, Code: "Oops", Fault: false}`,
		`"Operations": {Input: "Operations", Output: "Errors", ResultWrapper: "OperationsResult", Errors: []string{"Boom"}}`,
		`"Ping": {HostPrefix: "data-"}`,
		`case "Operations": return new(OperationsShape)`,
		`SigningName = "edge"`,
		`TargetPrefix = ""`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("generated code lacks %q", want)
		}
	}
	again, err := Generate(&m, "edgewire")
	if err != nil || !bytes.Equal(src, again) {
		t.Error("generation is not deterministic")
	}
}

func TestTimestampFormatIsRejected(t *testing.T) {
	m := &Model{Shapes: map[string]Shape{
		"S":  {Type: "structure", Members: map[string]Ref{"at": {Shape: "TS", TimestampFormat: "iso8601"}}},
		"TS": {Type: "timestamp"},
	}}
	if _, err := Generate(m, "x"); err == nil || !strings.Contains(err.Error(), "timestampFormat") {
		t.Fatalf("Generate = %v, want a timestampFormat error", err)
	}
}

// typeCheck type-checks generated source against the wire package's source.
func typeCheck(t *testing.T, src []byte) *types.Package {
	t.Helper()
	fset := token.NewFileSet()
	std := importer.ForCompiler(fset, "source", nil)
	wireFile, err := parser.ParseFile(fset, filepath.Join(apiDir, "wire", "wire.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	conf := types.Config{Importer: std}
	wirePkg, err := conf.Check("github.com/fargo-run/fargo/internal/api/wire", fset, []*ast.File{wireFile}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(fset, "zz_generated.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	conf.Importer = importerFunc(func(path string) (*types.Package, error) {
		if path == wirePkg.Path() {
			return wirePkg, nil
		}
		return std.Import(path)
	})
	pkg, err := conf.Check("example.com/edgewire", fset, []*ast.File{f}, nil)
	if err != nil {
		t.Fatalf("generated code does not type-check: %v\n%s", err, src)
	}
	return pkg
}

type importerFunc func(string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }

// TestNewInputMatchesOperations: NewInput knows exactly the operations with
// an input.
func TestNewInputMatchesOperations(t *testing.T) {
	m := testModel(t, "sts")
	src, err := Generate(m, "stswire")
	if err != nil {
		t.Fatal(err)
	}
	for name, op := range m.Operations {
		want := "case \"" + name + "\":"
		if has := bytes.Contains(src, []byte(want)); has != (op.Input != nil) {
			t.Errorf("NewInput case for %s: %v, input %v", name, has, op.Input)
		}
	}
}
