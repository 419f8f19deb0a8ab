package storagesweep

import (
	"context"
	"io/fs"
	"path"
	"slices"
	"strings"
	"testing"
)

// folder is a storage of a few keys, kept apart from Caddy's own.
type folder map[string][]byte

func (f folder) Load(_ context.Context, key string) ([]byte, error) {
	if v, ok := f[key]; ok {
		return v, nil
	}
	return nil, fs.ErrNotExist
}

func (f folder) Delete(_ context.Context, key string) error { delete(f, key); return nil }

func (f folder) List(_ context.Context, dir string, _ bool) ([]string, error) {
	var keys []string
	for k := range f {
		if path.Dir(k) == dir {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, fs.ErrNotExist
	}
	slices.Sort(keys)
	return keys, nil
}

func TestSweep(t *testing.T) {
	f := folder{"d/a": []byte("keep"), "d/b": []byte("old"), "d/c": []byte("{broken"), "e/x": []byte("old")}
	n, err := Sweep(context.Background(), f, "d", func(raw []byte) bool { return string(raw) == "keep" })
	if err != nil || n != 2 {
		t.Fatalf("Sweep: %d %v, want 2 deleted", n, err)
	}
	if _, ok := f["d/a"]; !ok {
		t.Error("the record to keep was deleted")
	}
	if _, ok := f["e/x"]; !ok {
		t.Error("a record of another folder was deleted")
	}
	if n, err := Sweep(context.Background(), f, "none", nil); n != 0 || err != nil {
		t.Errorf("a folder that does not exist: %d %v", n, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f["d/z"] = []byte("old")
	if _, err := Sweep(ctx, f, "d", func([]byte) bool { return false }); err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Errorf("a sweep after its context ended: %v", err)
	}
}
