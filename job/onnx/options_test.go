package onnx

import (
	"strings"
	"testing"
)

func TestCUDASettings(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	got, err := CUDASettings(2, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"device_id": "2", "cudnn_conv_algo_search": "HEURISTIC", "use_tf32": "0"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("default %s = %q, want %q", k, got[k], v)
		}
	}
	got, err = CUDASettings(0, env(map[string]string{EnvConvAlgoSearch: "EXHAUSTIVE", EnvTF32: "1"}))
	if err != nil {
		t.Fatal(err)
	}
	if got["cudnn_conv_algo_search"] != "EXHAUSTIVE" || got["use_tf32"] != "1" {
		t.Errorf("overrides not applied: %v", got)
	}
	for _, bad := range []map[string]string{{EnvConvAlgoSearch: "fast"}, {EnvTF32: "yes"}} {
		_, err := CUDASettings(0, env(bad))
		if err == nil {
			t.Errorf("%v accepted", bad)
			continue
		}
		for k := range bad {
			if !strings.Contains(err.Error(), k) {
				t.Errorf("error %q does not name %s", err, k)
			}
		}
	}
}
