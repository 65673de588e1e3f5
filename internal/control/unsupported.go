package control

import "strings"

// Settings fargo does not apply. A task definition may carry them (AWS
// registers them for EC2), but RunTask, StartTask, CreateService and
// UpdateService refuse to run it with InvalidParameterException rather
// than run it without them:
//   - pidMode host/task: every container has a PID namespace of its own
//     (sharing one needs a process to hold it for the task's life);
//   - ipcMode host/task/none: every container has a private IPC namespace
//     with its own /dev/shm;
//   - dockerSecurityOptions other than no-new-privileges, which every
//     fargo container has already: no SELinux labels, AppArmor profiles
//     or credential specs.

// unsupportedSetting names what of td fargo would not apply, or "".
func unsupportedSetting(td *TaskDefinition) string {
	if td.PidMode != "" {
		return "pidMode '" + td.PidMode + "' is not supported by fargo: each container has a process namespace of its own."
	}
	if td.IpcMode != "" {
		return "ipcMode '" + td.IpcMode + "' is not supported by fargo: each container has a private IPC namespace with its own /dev/shm."
	}
	for _, cd := range td.ContainerDefinitions {
		for _, o := range cd.DockerSecurityOptions {
			switch strings.TrimSpace(o) {
			case "no-new-privileges", "no-new-privileges:true":
			default:
				return "dockerSecurityOptions '" + o + "' of container '" + cd.Name + "' is not supported by fargo: it applies no-new-privileges to every container, and no SELinux label, AppArmor profile or credential spec."
			}
		}
	}
	return ""
}

// checkSupported refuses td when it asks for a setting fargo would not
// apply.
func checkSupported(td *TaskDefinition) error {
	if msg := unsupportedSetting(td); msg != "" {
		return InvalidParameterf("%s", msg)
	}
	return nil
}
