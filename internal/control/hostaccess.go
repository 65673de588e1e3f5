package control

import (
	"fmt"
	"strings"
)

// Host access. Every account's EC2 tasks run on the same fargo hosts, so
// what reaches past a task's own namespaces, cgroup and filesystem reaches
// the host, fargo's store and other accounts' tasks: privileged
// containers, host volumes (host.sourcePath), capabilities beyond
// Fargate's SYS_PTRACE, host devices, and the host network mode. fargo
// runs them only when the operator allows it (fargo server
// --allow-host-access); otherwise RunTask, StartTask, CreateService and
// UpdateService refuse them with InvalidParameterException. Fargate task
// definitions cannot ask for any of them (RegisterTaskDefinition refuses).

// hostAccessMessage is the refusal's message after what asked for it.
const hostAccessMessage = " reaches the host; this fargo runs such tasks only when started with --allow-host-access (FARGO_ALLOW_HOST_ACCESS=1)."

// needsHostAccess names what of td reaches the host, or "".
func needsHostAccess(td *TaskDefinition) string {
	if td.NetworkMode == NetworkModeHost {
		return "networkMode host"
	}
	for _, v := range td.Volumes {
		if v.Host != nil && v.Host.SourcePath != "" {
			return fmt.Sprintf("volume %s (host.sourcePath %s)", v.Name, v.Host.SourcePath)
		}
	}
	for _, cd := range td.ContainerDefinitions {
		if cd.Privileged != nil && *cd.Privileged {
			return fmt.Sprintf("container %s (privileged)", cd.Name)
		}
		lp := cd.LinuxParameters
		if lp == nil {
			continue
		}
		if len(lp.Devices) > 0 {
			return fmt.Sprintf("container %s (linuxParameters.devices)", cd.Name)
		}
		if lp.Capabilities != nil {
			for _, c := range lp.Capabilities.Add {
				if name := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(c)), "CAP_"); name != "SYS_PTRACE" {
					return fmt.Sprintf("container %s (capability %s)", cd.Name, c)
				}
			}
		}
	}
	return ""
}

// checkHostAccess refuses td when it reaches the host and this fargo does
// not allow it.
func (c *Control) checkHostAccess(td *TaskDefinition) error {
	if c.allowHostAccess {
		return nil
	}
	if what := needsHostAccess(td); what != "" {
		return InvalidParameterf("%s%s", what, hostAccessMessage)
	}
	return nil
}
