package control

import (
	"regexp"
	"strings"

	"github.com/fargo-run/fargo/internal/tenant"
)

// Checks AWS makes on fields of task definitions, services and overrides
// that reach the container or other accounts' view of the task: memory
// Docker (and runc under it) cannot honour, roles that are not IAM roles,
// and environment names a process cannot be given.

// minContainerMemoryMiB is Docker's minimum for a memory limit and a memory
// reservation ("Minimum memory limit allowed is 6MB"); the ECS developer
// guide: "don't specify less than 6 MiB of memory for your containers".
const minContainerMemoryMiB = 6

var (
	// roleARNRe is an IAM role ARN in any partition: the account, an
	// optional path (/.../) and the role name ([\w+=,.@-], 1-64).
	roleARNRe = regexp.MustCompile(`^arn:aws(?:-[a-z]+)*:iam::[0-9]{12}:role/(?:[\x21-\x7e]*/)?[\w+=,.@-]{1,64}$`)
	// roleNameRe is an IAM role name, which taskRoleArn and a service's
	// role take instead of an ARN ("The short name or full Amazon Resource
	// Name (ARN) of the IAM role").
	roleNameRe = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
)

// checkRole refuses a role that is neither an IAM role ARN nor, where
// allowName, a role name, with ECS's "Role is not valid" (ClientException).
// An empty role is no role.
func checkRole(role string, allowName bool) error {
	if role == "" || roleARNRe.MatchString(role) || allowName && roleNameRe.MatchString(role) {
		return nil
	}
	return invalid("Role is not valid")
}

// checkEnvironment refuses variables execve cannot pass on as given: an
// empty name, '=' in a name (it would end the name early), NUL anywhere.
func checkEnvironment(env []KeyValuePair) error {
	for _, kv := range env {
		if kv.Name == "" || strings.ContainsAny(kv.Name, "=\x00") {
			return invalid("Environment variable name '%s' is not valid: it must be non-empty and contain neither '=' nor NUL.", strings.ReplaceAll(kv.Name, "\x00", `\0`)) // wording: unverified
		}
		if strings.ContainsRune(kv.Value, 0) {
			return invalid("Environment variable '%s' has a NUL character in its value.", kv.Name) // wording: unverified
		}
	}
	return nil
}

// checkMemory refuses a container memory limit or reservation under
// Docker's minimum.
func checkMemory(container string, memory, reservation *int) error {
	if memory != nil && *memory > 0 && *memory < minContainerMemoryMiB {
		return invalid("Invalid 'memory' setting for container '%s'. The value must be at least %d MiB.", container, minContainerMemoryMiB) // wording: unverified
	}
	if reservation != nil && *reservation > 0 && *reservation < minContainerMemoryMiB {
		return invalid("Invalid 'memoryReservation' setting for container '%s'. The value must be at least %d MiB.", container, minContainerMemoryMiB) // wording: unverified
	}
	return nil
}

// checkAWSFields applies the checks above to a task definition.
func checkAWSFields(td *TaskDefinition) error {
	if err := checkRole(td.TaskRoleArn, true); err != nil {
		return err
	}
	if err := checkRole(td.ExecutionRoleArn, false); err != nil {
		return err
	}
	for i := range td.ContainerDefinitions {
		c := &td.ContainerDefinitions[i]
		if err := checkMemory(c.Name, c.Memory, c.MemoryReservation); err != nil {
			return err
		}
		if err := checkEnvironment(c.Environment); err != nil {
			return err
		}
		// The region names the Logs scope the agent writes to: it reaches
		// ARNs and store keys like the region of a request.
		if lc := c.LogConfiguration; lc != nil && lc.LogDriver == "awslogs" {
			if r := lc.Options["awslogs-region"]; r != "" && !tenant.ValidRegion(r) {
				return invalid("Log driver awslogs option 'awslogs-region' is not a valid region: '%s'.", r) // wording: unverified
			}
		}
	}
	return nil
}

// checkOverrideFields applies them to a RunTask or StartTask override.
func checkOverrideFields(o *TaskOverride) error {
	if err := checkRole(o.TaskRoleArn, true); err != nil {
		return err
	}
	if err := checkRole(o.ExecutionRoleArn, false); err != nil {
		return err
	}
	for i := range o.ContainerOverrides {
		co := &o.ContainerOverrides[i]
		if err := checkMemory(co.Name, co.Memory, co.MemoryReservation); err != nil {
			return err
		}
		if err := checkEnvironment(co.Environment); err != nil {
			return err
		}
	}
	return nil
}
