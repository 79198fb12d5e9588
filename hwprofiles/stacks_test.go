package hwprofiles

import (
	"errors"
	"strings"
	"testing"
)

// TestDeviceStack takes a device as a stack runs it: the device's memory,
// power and id, the stack's precision, peak, costs and efficiencies (pool
// and norm from elementwise), no measured table.
func TestDeviceStack(t *testing.T) {
	cat, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	base, _ := cat.Device("rpi4")
	d, err := cat.DeviceStack("rpi4", "pytorch")
	if err != nil {
		t.Fatal(err)
	}
	var s Stack
	for _, e := range cat.Stacks {
		if e.Device == "rpi4" && e.Stack == "pytorch" {
			s = e
		}
	}
	if d.ID != "rpi4" || d.Stack != "pytorch" || d.Dtype != DtypeInt8 || d.MemoryMB != base.MemoryMB || d.ActivePowerW != base.ActivePowerW {
		t.Errorf("DeviceStack = %s %s %s memory %g power %g", d.ID, d.Stack, d.Dtype, d.MemoryMB.Value, d.ActivePowerW.Value)
	}
	if d.PeakGFLOPS != s.PeakGFLOPS || d.LayerOverheadMS != s.LayerOverheadMS || d.ExpectedErrorPct != s.ExpectedErrorPct || !d.FoldNormAct {
		t.Errorf("DeviceStack numbers differ from the stack entry")
	}
	if d.Efficiency["pool"] != s.Efficiency["elementwise"] || d.Efficiency["norm"] != s.Efficiency["elementwise"] {
		t.Errorf("pool and norm efficiencies are not elementwise's")
	}
	cm := d.CostModel()
	if cm.BytesPerElem != 1 || !cm.FoldNormAct || cm.Validate() != nil {
		t.Errorf("cost model: %d bytes per element, fold %v, %v", cm.BytesPerElem, cm.FoldNormAct, cm.Validate())
	}
	// The device itself is unchanged.
	if again, _ := cat.Device("rpi4"); again.Stack != "" || again.Dtype != base.Dtype {
		t.Errorf("DeviceStack changed the catalog's device")
	}
}

func TestDeviceStackUnknown(t *testing.T) {
	cat, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ device, stack, want string }{
		{"rpi4", "tensorrt", `unknown stack for device rpi4 "tensorrt" (valid: ncnn, opencv, pytorch, tflite)`},
		{"rpi9", "ncnn", `unknown edge device "rpi9"`},
		{"epyc-2c", "ncnn", `unknown stack for device epyc-2c "ncnn" (the catalog has none)`},
	} {
		_, err := cat.DeviceStack(tc.device, tc.stack)
		if err == nil || !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("DeviceStack(%s, %s) = %v, want %q", tc.device, tc.stack, err, tc.want)
		}
	}
}

// TestStacksOf lists a device's stacks, sorted.
func TestStacksOf(t *testing.T) {
	cat, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cat.StacksOf("rpi4"), ","); got != "ncnn,opencv,pytorch,tflite" {
		t.Errorf("StacksOf(rpi4) = %s", got)
	}
	if got := cat.StacksOf("h100"); got != nil {
		t.Errorf("StacksOf(h100) = %v, want none", got)
	}
}
