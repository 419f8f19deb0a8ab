package bill

import (
	"bytes"
	"os"
	"testing"
)

// TestSpoolBuffersTheFile: past its memory bound the spool writes the file
// in pieces of that bound; whatever the sizes of the writes (smaller than
// the buffer, larger, across it), Err writes out the rest, and the file,
// WriteTo and Bytes hold every byte in order.
func TestSpoolBuffersTheFile(t *testing.T) {
	data := sampleBill(2000)
	s := NewSpool(t.TempDir(), 100, 1<<40)
	t.Cleanup(func() { _ = s.Close() })
	pieces := []int{60, 30, 7, 250, 1, 99, 100, 101, 33}
	for i, rest := 0, data; len(rest) > 0; i++ {
		n := min(len(rest), pieces[i%len(pieces)])
		if w, err := s.Write(rest[:n]); err != nil || w != n {
			t.Fatalf("Write of %d bytes: %d, %v", n, w, err)
		}
		rest = rest[n:]
	}
	if !s.OnDisk() || s.Size() != int64(len(data)) {
		t.Fatalf("on disk %v, size %d of %d", s.OnDisk(), s.Size(), len(data))
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if onDisk, err := os.ReadFile(s.file.Name()); err != nil || !bytes.Equal(onDisk, data) {
		t.Fatalf("the file after Err holds %d bytes, not the %d written (%v)", len(onDisk), len(data), err)
	}
	var sent bytes.Buffer
	if n, err := s.WriteTo(&sent); err != nil || n != int64(len(data)) || !bytes.Equal(sent.Bytes(), data) {
		t.Fatalf("WriteTo: %d bytes, %v", n, err)
	}
	if b, err := s.Bytes(); err != nil || !bytes.Equal(b, data) {
		t.Fatal("Bytes gave back other bytes", err)
	}
}
