package agent

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fargo-run/fargo/internal/image"
	"github.com/fargo-run/fargo/internal/network"
	"github.com/fargo-run/fargo/internal/node"
	"github.com/fargo-run/fargo/internal/runtime"
)

// TestResolvConf: an agent configured with resolvers (fargo's DNS server)
// gives each task an /etc/resolv.conf with them, mounted over the image's;
// one configured with none leaves the image's alone.
func TestResolvConf(t *testing.T) {
	task := &node.Task{ID: "t1", LaunchType: node.LaunchTypeFargate}
	td := &node.TaskDefinition{Family: "f", NetworkMode: node.NetworkModeAwsvpc}
	cd := &node.ContainerDefinition{Name: "web", Image: "app"}
	att := &network.Attachment{TaskID: "t1", IP: netip.MustParseAddr("10.0.0.2"), PrivateDNSName: "ip-10-0-0-2.ec2.internal"}
	for _, ns := range [][]string{{"169.254.170.2"}, nil} {
		dir := t.TempDir()
		if err := writeEtcFiles(dir, att, ns); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "resolv.conf"))
		spec, serr := buildSpec(specInput{scope: scope, task: task, td: td, cd: cd, image: image.RunConfig{Cmd: []string{"serve"}},
			att: att, hostsDir: dir, resolvConf: len(ns) > 0})
		if serr != nil {
			t.Fatal(serr)
		}
		mounted := slices.ContainsFunc(spec.Mounts, func(m runtime.Mount) bool {
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
