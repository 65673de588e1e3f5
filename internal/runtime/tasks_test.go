package runtime

import (
	"reflect"
	"testing"
)

func TestParseBlkio(t *testing.T) {
	v1 := "8:0 Read 4096\n8:0 Write 12288\n8:0 Sync 0\n8:0 Async 16384\n8:0 Discard 0\n8:0 Total 16384\n253:1 Read 512\nTotal 16896\n"
	got := parseBlkio(v1)
	if len(got) != 7 || got[1] != (BlkioEntry{Major: 8, Minor: 0, Op: "Write", Value: 12288}) ||
		got[6] != (BlkioEntry{Major: 253, Minor: 1, Op: "Read", Value: 512}) {
		t.Errorf("parseBlkio = %+v", got)
	}
	if got := parseBlkio("Total 0\n"); got == nil || len(got) != 0 {
		t.Errorf("no devices: %#v, want an empty list", got)
	}
	v2 := parseIOStat("8:16 rbytes=1024 wbytes=2048 rios=3 wios=4 dbytes=0 dios=0\n")
	want := BlkioStats{
		ServiceBytes: []BlkioEntry{{Major: 8, Minor: 16, Op: "read", Value: 1024}, {Major: 8, Minor: 16, Op: "write", Value: 2048}},
		Serviced:     []BlkioEntry{{Major: 8, Minor: 16, Op: "read", Value: 3}, {Major: 8, Minor: 16, Op: "write", Value: 4}},
	}
	if !reflect.DeepEqual(v2, want) {
		t.Errorf("parseIOStat = %+v, want %+v", v2, want)
	}
}

func TestContainerID(t *testing.T) {
	id := ContainerID("0123abcd", "web-app")
	if id != "0123abcd-web-app" {
		t.Errorf("ContainerID = %q", id)
	}
	if task, ok := ContainerTask(id); !ok || task != "0123abcd" {
		t.Errorf("ContainerTask(%q) = %q, %v", id, task, ok)
	}
	for _, bad := range []string{"", "nodash", "-x"} {
		if task, ok := ContainerTask(bad); ok {
			t.Errorf("ContainerTask(%q) = %q, true", bad, task)
		}
	}
}
