package control

import (
	"errors"
	"strings"
	"testing"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// TestAWSFieldChecks: the validation AWS does that fargo skipped: container
// memory of at least 6 MiB, roles that are IAM role ARNs (or role names
// where AWS takes a short name), and environment variable names a
// container can be given.
func TestAWSFieldChecks(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*TaskDefinition)
		want string // "" = accepted
	}{
		{"memory 6 MiB", func(td *TaskDefinition) { td.ContainerDefinitions[0].Memory = ptr(6) }, ""},
		{"memory 5 MiB", func(td *TaskDefinition) { td.ContainerDefinitions[0].Memory = ptr(5) }, "at least 6 MiB"},
		{"reservation 4 MiB", func(td *TaskDefinition) { td.ContainerDefinitions[0].MemoryReservation = ptr(4) }, "at least 6 MiB"},
		{"task role ARN", func(td *TaskDefinition) { td.TaskRoleArn = "arn:aws:iam::123456789012:role/path/app-role" }, ""},
		{"task role name", func(td *TaskDefinition) { td.TaskRoleArn = "app-role" }, ""},
		{"task role not a role", func(td *TaskDefinition) { td.TaskRoleArn = "arn:aws:ecs:us-east-1:123456789012:cluster/x" }, "Role is not valid"},
		{"task role garbage", func(td *TaskDefinition) { td.TaskRoleArn = "not a role" }, "Role is not valid"},
		{"execution role name", func(td *TaskDefinition) { td.ExecutionRoleArn = "exec" }, "Role is not valid"},
		{"execution role bad account", func(td *TaskDefinition) { td.ExecutionRoleArn = "arn:aws:iam::12345:role/exec" }, "Role is not valid"},
		{"execution role gov", func(td *TaskDefinition) { td.ExecutionRoleArn = "arn:aws-us-gov:iam::123456789012:role/exec" }, ""},
		{"awslogs region", func(td *TaskDefinition) {
			td.ContainerDefinitions[0].LogConfiguration.Options["awslogs-region"] = "eu-west-3"
		}, ""},
		{"awslogs region not a region", func(td *TaskDefinition) {
			td.ContainerDefinitions[0].LogConfiguration.Options["awslogs-region"] = "us-east-1/x"
		}, "awslogs-region"},
		{"env ok", func(td *TaskDefinition) {
			td.ContainerDefinitions[0].Environment = []KeyValuePair{{Name: "A_1", Value: "x=y"}, {Name: "lower.dots-ok", Value: ""}}
		}, ""},
		{"env empty name", func(td *TaskDefinition) {
			td.ContainerDefinitions[0].Environment = []KeyValuePair{{Name: "", Value: "x"}}
		}, "Environment variable name"},
		{"env name with =", func(td *TaskDefinition) {
			td.ContainerDefinitions[0].Environment = []KeyValuePair{{Name: "A=B", Value: "x"}}
		}, "Environment variable name"},
		{"env name with NUL", func(td *TaskDefinition) {
			td.ContainerDefinitions[0].Environment = []KeyValuePair{{Name: "A\x00", Value: "x"}}
		}, "Environment variable name"},
		{"env value with NUL", func(td *TaskDefinition) {
			td.ContainerDefinitions[0].Environment = []KeyValuePair{{Name: "A", Value: "x\x00"}}
		}, "Environment variable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			td := fargateDef()
			tc.edit(td)
			err := PrepareTaskDefinition(td)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(errdefs.Message(err), tc.want) {
				t.Fatalf("err = %v, want an invalid argument containing %q", err, tc.want)
			}
		})
	}
}

func TestValidRoleForServiceAndOverrides(t *testing.T) {
	for _, tc := range []struct {
		role string
		ok   bool
	}{
		{"", true},
		{"ecsServiceRole", true},
		{"arn:aws:iam::123456789012:role/ecsServiceRole", true},
		{"arn:aws:iam::123456789012:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS", true},
		{"arn:aws:iam::123456789012:user/bob", false},
		{"arn:aws:iam::123456789012:role/", false},
		{"role with spaces", false},
		{strings.Repeat("r", 65), false},
	} {
		if err := checkRole(tc.role, true); (err == nil) != tc.ok {
			t.Errorf("checkRole(%q) = %v, want ok %v", tc.role, err, tc.ok)
		}
	}
	td := fargateDef()
	if err := validateOverrides(td, &TaskOverride{TaskRoleArn: "arn:aws:s3:::bucket"}); err == nil {
		t.Error("an override's task role that is no role was accepted")
	}
	if err := validateOverrides(td, &TaskOverride{ContainerOverrides: []ContainerOverride{{Name: "web", Environment: []KeyValuePair{{Name: "A=B"}}}}}); err == nil {
		t.Error("an override's environment name with '=' was accepted")
	}
}
