package agent

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fargo-run/fargo/internal/control"
)

// TestResolvConf: an attachment that names resolvers (fargo's DNS server)
// gives the task an /etc/resolv.conf with them, mounted over the image's;
// one that names none leaves the image's alone.
func TestResolvConf(t *testing.T) {
	task := &control.Task{ID: "t1", LaunchType: control.LaunchTypeFargate}
	td := &control.TaskDefinition{Family: "f", NetworkMode: control.NetworkModeAwsvpc}
	cd := &control.ContainerDefinition{Name: "web", Image: "app"}
	for _, ns := range [][]string{{"169.254.170.2"}, nil} {
		dir := t.TempDir()
		att := &Attachment{IP: "10.0.0.2", DNSName: "ip-10-0-0-2.ec2.internal", Nameservers: ns}
		if err := writeEtcFiles(dir, att); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "resolv.conf"))
		spec, serr := buildSpec(specInput{scope: scope, task: task, td: td, cd: cd, image: ImageConfig{Cmd: []string{"serve"}}, att: att, hostsDir: dir})
		if serr != nil {
			t.Fatal(serr)
		}
		mounted := slices.ContainsFunc(spec.Mounts, func(m Mount) bool {
			return m.Destination == "/etc/resolv.conf" && m.Source == dir+"/resolv.conf"
		})
		if ns == nil {
			if err == nil || mounted {
				t.Fatalf("no resolvers: resolv.conf %q, mounted %v", b, mounted)
			}
			continue
		}
		if err != nil || string(b) != "nameserver 169.254.170.2\n" || !mounted {
			t.Fatalf("resolv.conf %q (%v), mounted %v: %+v", b, err, mounted, spec.Mounts)
		}
	}
}
