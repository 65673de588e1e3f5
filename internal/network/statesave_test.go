package network

import (
	"bytes"
	"net/netip"
	"testing"
)

// TestStateSaveDurableSubnets: a save makes its rename durable (fsyncs the
// directory) when the subnets changed since the last durable save, and
// not for a change of the tasks' records only; every save is read back.
func TestStateSaveDurableSubnets(t *testing.T) {
	dir := t.TempDir()
	st := newState()
	sub, err := st.subnetFor(Config{Pool: netip.MustParsePrefix("10.219.0.0/16"), SubnetBits: 24}, "a", "r")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.save(dir); err != nil {
		t.Fatal(err)
	}
	first := st.durableSubnets
	if len(first) == 0 {
		t.Fatal("a save with a new subnet was not made durable")
	}
	st.Tasks["t"] = &taskInfo{TaskID: "t", Account: "a", Region: "r", IP: sub.CIDR.Addr().Next().Next(), Ready: true}
	if err := st.save(dir); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(st.durableSubnets, first) {
		t.Errorf("durable subnets changed by a task's record: %s, was %s", st.durableSubnets, first)
	}
	got, err := loadState(dir)
	if err != nil || got.Tasks["t"] == nil || !got.Tasks["t"].Ready || got.Subnets["a/r"] == nil {
		t.Fatalf("loadState = %+v, %v: want the task and the subnet", got, err)
	}
	if len(got.durableSubnets) != 0 {
		t.Error("a loaded state must make its first save durable")
	}
	if _, err := st.subnetFor(Config{Pool: netip.MustParsePrefix("10.219.0.0/16"), SubnetBits: 24}, "b", "r"); err != nil {
		t.Fatal(err)
	}
	if err := st.save(dir); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(st.durableSubnets, first) {
		t.Error("a save with a second subnet was not made durable")
	}
}
