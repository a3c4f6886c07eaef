package gpu

import (
	"os"
	"strings"
	"testing"
)

func TestParseDevice(t *testing.T) {
	for _, tc := range []struct {
		in      string
		cuda    bool
		ordinal int
		bad     bool
	}{
		{"", false, 0, false}, {"cpu", false, 0, false}, {"cuda", true, 0, false},
		{"cuda:0", true, 0, false}, {"cuda:3", true, 3, false},
		{"cuda:-1", false, 0, true}, {"cuda:x", false, 0, true}, {"gpu", false, 0, true}, {"CPU", false, 0, true},
	} {
		cuda, ord, err := ParseDevice(tc.in)
		if (err != nil) != tc.bad || cuda != tc.cuda || ord != tc.ordinal {
			t.Errorf("ParseDevice(%q) = %v, %d, %v", tc.in, cuda, ord, err)
		}
	}
}

func TestCheckPlacement(t *testing.T) {
	two := Inventory{Devices: []Device{{Index: 0, UUID: "GPU-aaa"}, {Index: 1, UUID: "GPU-bbb"}}}
	none := Inventory{NoGPUReason: "NVML unavailable: library not found"}
	for _, tc := range []struct {
		inv     Inventory
		dev     string
		visible string // "unset" leaves CUDA_VISIBLE_DEVICES unset
		wantErr string
	}{
		{none, "cpu", "unset", ""},
		{none, "cuda:0", "unset", "rank 4 on host h1: plan places it on cuda:0, but this host has no such GPU (NVML unavailable"},
		{two, "cuda:1", "unset", ""},
		{two, "cuda:2", "unset", "2 GPU(s) visible"},
		{two, "cuda:1", "0", "1 GPU(s) visible"},
		{two, "cuda:0", "", "0 GPU(s) visible"},
		{two, "cuda:1", "GPU-bbb,GPU-aaa", ""},
		{two, "cuda:1", "GPU-bbb,GPU-zzz", "1 GPU(s) visible"},
	} {
		if tc.visible != "unset" {
			t.Setenv("CUDA_VISIBLE_DEVICES", tc.visible)
		}
		err := CheckPlacement(tc.inv, tc.dev, "h1", 4)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s (visible %q): unexpected error %v", tc.dev, tc.visible, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s (visible %q): error %v, want it to contain %q", tc.dev, tc.visible, err, tc.wantErr)
		}
	}
}

// On the CI machine (no NVIDIA driver) discovery must succeed with zero devices and say why; on a GPU host
// it must list at least one device with a name and a UUID. Either way the call must not fail.
func TestDiscoverOnThisHost(t *testing.T) {
	inv, err := Discover()
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Devices) == 0 && inv.NoGPUReason == "" {
		t.Fatal("no devices and no reason given")
	}
	for _, d := range inv.Devices {
		if d.Name == "" || !strings.HasPrefix(d.UUID, "GPU-") {
			t.Errorf("incomplete device %+v", d)
		}
	}
}

func TestDeviceForSlot(t *testing.T) {
	two := Inventory{Devices: []Device{{Index: 0}, {Index: 1}}}
	none := Inventory{Devices: []Device{}, NoGPUReason: "NVML unavailable: library not found"}
	tests := []struct {
		inv     Inventory
		visible string // CUDA_VISIBLE_DEVICES; "unset" leaves it unset
		want    string
		slot    int
		device  string
		errPart string
	}{
		{two, "unset", "cpu", 3, "cpu", ""},
		{none, "unset", "", 0, "cpu", ""},
		{two, "unset", "cuda", 0, "cuda:0", ""},
		{two, "unset", "cuda", 1, "cuda:1", ""},
		{two, "unset", "cuda", 2, "cuda:0", ""},
		{two, "1", "cuda", 1, "cuda:0", ""}, // one visible GPU: every slot shares it
		{two, "", "cuda", 0, "", "no GPU"},
		{none, "unset", "cuda", 0, "", "rank 4 on host n1: asked for cuda, but this host has no GPU (NVML unavailable"},
		{two, "unset", "tpu", 0, "", `device "tpu": want cpu or cuda`},
	}
	t.Setenv("CUDA_VISIBLE_DEVICES", "") // restores the caller's value after the cases unset it
	for i, tc := range tests {
		if tc.visible == "unset" {
			os.Unsetenv("CUDA_VISIBLE_DEVICES")
		} else {
			t.Setenv("CUDA_VISIBLE_DEVICES", tc.visible)
		}
		got, err := DeviceForSlot(tc.inv, tc.want, tc.slot, "n1", 4)
		if tc.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errPart) {
				t.Errorf("case %d: error %v, want one containing %q", i, err, tc.errPart)
			}
			continue
		}
		if err != nil || got != tc.device {
			t.Errorf("case %d: got %q, %v; want %q", i, got, err, tc.device)
		}
	}
}
