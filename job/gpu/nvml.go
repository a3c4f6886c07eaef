package gpu

// A minimal NVML binding: the library is opened at run time (dlopen), so the binary builds and runs on hosts
// without NVIDIA's driver, and only the nine functions discovery needs are looked up. It replaces a full
// binding whose headers declare deprecated functions and made every first build print pages of compiler
// warnings. Signatures and status codes are NVML's (nvml.h, stable since CUDA 10).

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

typedef struct { unsigned long long total, free, used; } jb_nvml_memory;

enum { JB_SUCCESS = 0, JB_LIBRARY_NOT_FOUND = 12, JB_FUNCTION_NOT_FOUND = 13 };

static void *jb_lib;

static void *jb_sym(const char *name) { return jb_lib ? dlsym(jb_lib, name) : NULL; }

static int jb_open(void) {
	if (!jb_lib) jb_lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!jb_lib) return JB_LIBRARY_NOT_FOUND;
	int (*f)(void) = (int (*)(void))jb_sym("nvmlInit_v2");
	return f ? f() : JB_FUNCTION_NOT_FOUND;
}

static int jb_shutdown(void) {
	int (*f)(void) = (int (*)(void))jb_sym("nvmlShutdown");
	return f ? f() : JB_FUNCTION_NOT_FOUND;
}

static const char *jb_error_string(int ret) {
	const char *(*f)(int) = (const char *(*)(int))jb_sym("nvmlErrorString");
	return f ? f(ret) : NULL;
}

static int jb_driver_version(char *buf, unsigned int n) {
	int (*f)(char *, unsigned int) = (int (*)(char *, unsigned int))jb_sym("nvmlSystemGetDriverVersion");
	return f ? f(buf, n) : JB_FUNCTION_NOT_FOUND;
}

static int jb_cuda_version(int *v) {
	int (*f)(int *) = (int (*)(int *))jb_sym("nvmlSystemGetCudaDriverVersion_v2");
	if (!f) f = (int (*)(int *))jb_sym("nvmlSystemGetCudaDriverVersion");
	return f ? f(v) : JB_FUNCTION_NOT_FOUND;
}

static int jb_device_count(unsigned int *n) {
	int (*f)(unsigned int *) = (int (*)(unsigned int *))jb_sym("nvmlDeviceGetCount_v2");
	return f ? f(n) : JB_FUNCTION_NOT_FOUND;
}

static int jb_device_handle(unsigned int i, void **h) {
	int (*f)(unsigned int, void **) = (int (*)(unsigned int, void **))jb_sym("nvmlDeviceGetHandleByIndex_v2");
	return f ? f(i, h) : JB_FUNCTION_NOT_FOUND;
}

static int jb_device_string(const char *fn, void *h, char *buf, unsigned int n) {
	int (*f)(void *, char *, unsigned int) = (int (*)(void *, char *, unsigned int))jb_sym(fn);
	return f ? f(h, buf, n) : JB_FUNCTION_NOT_FOUND;
}

static int jb_device_memory(void *h, jb_nvml_memory *m) {
	int (*f)(void *, jb_nvml_memory *) = (int (*)(void *, jb_nvml_memory *))jb_sym("nvmlDeviceGetMemoryInfo");
	return f ? f(h, m) : JB_FUNCTION_NOT_FOUND;
}

static int jb_device_cc(void *h, int *major, int *minor) {
	int (*f)(void *, int *, int *) = (int (*)(void *, int *, int *))jb_sym("nvmlDeviceGetCudaComputeCapability");
	return f ? f(h, major, minor) : JB_FUNCTION_NOT_FOUND;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// nvmlReturn is an NVML status code.
type nvmlReturn int

// The status codes discovery distinguishes (nvml.h).
const (
	nvmlSuccess          nvmlReturn = 0
	nvmlNoPermission     nvmlReturn = 4
	nvmlDriverNotLoaded  nvmlReturn = 9
	nvmlLibraryNotFound  nvmlReturn = 12
	nvmlFunctionNotFound nvmlReturn = 13
)

// String is NVML's own message for the code when the library is loaded.
func (r nvmlReturn) String() string {
	switch r {
	case nvmlLibraryNotFound:
		return "library not found"
	case nvmlFunctionNotFound:
		return "function not found in this NVML version"
	}
	if s := C.jb_error_string(C.int(r)); s != nil {
		return C.GoString(s)
	}
	return fmt.Sprintf("NVML status %d", int(r))
}

// nvmlDevice is an NVML device handle.
type nvmlDevice struct{ h unsafe.Pointer }

// Buffer sizes large enough for NVML's strings (its own constants are 80 to 96 bytes).
const nvmlStringBuffer = 256

func nvmlInit() nvmlReturn     { return nvmlReturn(C.jb_open()) }
func nvmlShutdown() nvmlReturn { return nvmlReturn(C.jb_shutdown()) }

func nvmlString(get func(*C.char, C.uint) C.int) (string, nvmlReturn) {
	buf := (*C.char)(C.malloc(nvmlStringBuffer))
	defer C.free(unsafe.Pointer(buf))
	if r := nvmlReturn(get(buf, nvmlStringBuffer)); r != nvmlSuccess {
		return "", r
	}
	return C.GoString(buf), nvmlSuccess
}

func nvmlDriverVersion() (string, nvmlReturn) {
	return nvmlString(func(b *C.char, n C.uint) C.int { return C.jb_driver_version(b, n) })
}

func nvmlCUDADriverVersion() (int, nvmlReturn) {
	var v C.int
	r := nvmlReturn(C.jb_cuda_version(&v))
	return int(v), r
}

func nvmlDeviceCount() (int, nvmlReturn) {
	var n C.uint
	r := nvmlReturn(C.jb_device_count(&n))
	return int(n), r
}

func nvmlDeviceByIndex(i int) (nvmlDevice, nvmlReturn) {
	var h unsafe.Pointer
	r := nvmlReturn(C.jb_device_handle(C.uint(i), &h))
	return nvmlDevice{h}, r
}

func (d nvmlDevice) str(fn string) (string, nvmlReturn) {
	name := C.CString(fn)
	defer C.free(unsafe.Pointer(name))
	return nvmlString(func(b *C.char, n C.uint) C.int { return C.jb_device_string(name, d.h, b, n) })
}

func (d nvmlDevice) name() (string, nvmlReturn) { return d.str("nvmlDeviceGetName") }
func (d nvmlDevice) uuid() (string, nvmlReturn) { return d.str("nvmlDeviceGetUUID") }

func (d nvmlDevice) memory() (total, free uint64, r nvmlReturn) {
	var m C.jb_nvml_memory
	r = nvmlReturn(C.jb_device_memory(d.h, &m))
	return uint64(m.total), uint64(m.free), r
}

func (d nvmlDevice) computeCapability() (major, minor int, r nvmlReturn) {
	var ma, mi C.int
	r = nvmlReturn(C.jb_device_cc(d.h, &ma, &mi))
	return int(ma), int(mi), r
}
