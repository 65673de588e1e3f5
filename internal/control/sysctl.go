package control

import "strings"

// systemControls (Docker's --sysctl) are namespaced kernel parameters:
// they change the container's own IPC or network namespace, never the
// host. ECS (and Fargate) accept the IPC namespace's (ipcSysctls and
// fs.mqueue.*) and the network namespace's (net.*); anything else (vm.*,
// kernel.panic, ...) is the host's and is refused at registration.
var ipcSysctls = []string{"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
	"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}

// SysctlNamespace is "ipc" or "net" for a namespaced kernel parameter,
// "" for any other.
func SysctlNamespace(name string) string {
	for _, n := range ipcSysctls {
		if name == n {
			return "ipc"
		}
	}
	switch {
	case strings.HasPrefix(name, "fs.mqueue.") && len(name) > len("fs.mqueue."):
		return "ipc"
	case strings.HasPrefix(name, "net.") && len(name) > len("net."):
		return "net"
	}
	return ""
}

// validateSystemControls checks a container's systemControls against the
// namespaces its task gives it.
func validateSystemControls(td *TaskDefinition, c *ContainerDefinition) error {
	for _, s := range c.SystemControls {
		if s.Namespace == "" || s.Value == "" {
			return invalid("Invalid 'systemControls' setting for container '%s': namespace and value are required.", c.Name) // wording: unverified
		}
		switch SysctlNamespace(s.Namespace) {
		case "net":
			if td.NetworkMode == NetworkModeHost {
				return invalid("Invalid 'systemControls' setting for container '%s': network namespace systemControls are not supported when networkMode=host.", c.Name) // wording: unverified
			}
		case "ipc":
			if td.IpcMode == "host" {
				return invalid("Invalid 'systemControls' setting for container '%s': IPC namespace systemControls are not supported when ipcMode=host.", c.Name) // wording: unverified
			}
		default:
			return invalid("Invalid 'systemControls' setting for container '%s': '%s' is not a namespaced kernel parameter (%s, fs.mqueue.*, net.*).", c.Name, s.Namespace, strings.Join(ipcSysctls, ", ")) // wording: unverified
		}
	}
	return nil
}
