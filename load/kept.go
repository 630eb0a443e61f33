package load

import (
	"reflect"
	"slices"
	"unsafe"
)

// keptSize estimates the heap bytes v keeps reachable through pointers,
// slices, strings and maps: each allocation once, rounded up to the
// allocator's size classes. The run keeps every iteration's record for
// its report, so the heap grows by design with each iteration; a soak's
// heap sample is judged without it.
func keptSize(v any) uint64 {
	w := keptWalker{seen: map[uintptr]bool{}}
	w.walk(reflect.ValueOf(v))
	return w.n
}

type keptWalker struct {
	seen map[uintptr]bool
	n    uint64
}

// alloc counts one allocation of size bytes at p, and reports whether it
// is new (what it points to is then walked).
func (w *keptWalker) alloc(p, size uintptr) bool {
	if p == 0 || w.seen[p] {
		return false
	}
	w.seen[p] = true
	w.n += uint64(roundSizeClass(size))
	return true
}

func (w *keptWalker) walk(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() && w.alloc(v.Pointer(), v.Type().Elem().Size()) {
			w.walk(v.Elem())
		}
	case reflect.Interface:
		if !v.IsNil() {
			w.walk(v.Elem())
		}
	case reflect.String:
		if v.Len() > 0 {
			w.alloc(uintptr(unsafe.Pointer(unsafe.StringData(v.String()))), uintptr(v.Len()))
		}
	case reflect.Slice:
		if v.Cap() > 0 && w.alloc(v.Pointer(), uintptr(v.Cap())*v.Type().Elem().Size()) {
			for i := range v.Len() {
				w.walk(v.Index(i))
			}
		}
	case reflect.Array:
		for i := range v.Len() {
			w.walk(v.Index(i))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			w.walk(v.Field(i))
		}
	case reflect.Map:
		// The header, and groups of 8 slots (key and value each) with 8
		// control bytes, at most 7/8 full, their count a power of two: an
		// estimate, as the layout is the runtime's (Go 1.24's maps).
		if v.IsNil() || !w.alloc(v.Pointer(), 48) {
			return
		}
		groups := uintptr(1)
		for groups*7 < uintptr(v.Len()) {
			groups *= 2
		}
		w.n += uint64(roundSizeClass(groups * (8 + 8*(v.Type().Key().Size()+v.Type().Elem().Size()))))
		for it := v.MapRange(); it.Next(); {
			w.walk(it.Key())
			w.walk(it.Value())
		}
	}
}

// sizeClasses are the Go allocator's small object sizes (runtime
// sizeclasses.go); a larger object takes whole 8 KiB pages.
var sizeClasses = []uintptr{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
	288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048,
	2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880,
	12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

func roundSizeClass(n uintptr) uintptr {
	if i, _ := slices.BinarySearch(sizeClasses, n); i < len(sizeClasses) {
		return sizeClasses[i]
	}
	const page = 8192
	return (n + page - 1) / page * page
}
