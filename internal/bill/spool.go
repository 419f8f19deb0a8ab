package bill

import (
	"bytes"
	"errors"
	"io"
	"os"
)

// ErrTooLarge is the error of Spool.Write past the spool's limit.
var ErrTooLarge = errors.New("the bill is larger than the limit")

// Spool holds a download until it is checked: in memory up to a small
// bound, then in a temporary file, which Close removes. It is not safe for
// concurrent use.
type Spool struct {
	mem     bytes.Buffer
	memMax  int
	limit   int64
	dir     string
	file    *os.File
	pending []byte // bytes for the file, written out in pieces of memMax
	size    int64
	err     error // the first write error; every later Write returns it
	removed bool
}

// TempPattern is the pattern of a spool's temporary file names.
const TempPattern = "wechatpay-bill-*"

// NewSpool returns a spool that keeps up to memMax bytes in memory, then
// writes to a temporary file in dir (os.TempDir() when empty), and refuses
// more than limit bytes in all with ErrTooLarge.
func NewSpool(dir string, memMax int, limit int64) *Spool {
	return &Spool{dir: dir, memMax: memMax, limit: limit}
}

// Write implements io.Writer.
func (s *Spool) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.size+int64(len(p)) > s.limit {
		s.err = ErrTooLarge
		return 0, s.err
	}
	if s.file == nil && s.mem.Len()+len(p) <= s.memMax {
		s.size += int64(len(p))
		return s.mem.Write(p)
	}
	if s.file == nil {
		f, err := os.CreateTemp(s.dir, TempPattern)
		if err != nil {
			s.err = err
			return 0, err
		}
		s.file = f
		// The memory goes on as the file's write buffer: the download
		// arrives in small pieces (reverse_proxy's are 32 KiB), which
		// reach the file in pieces of memMax, with fewer system calls.
		s.pending = append(make([]byte, 0, max(s.memMax, s.mem.Len())), s.mem.Bytes()...)
		s.mem = bytes.Buffer{}
	}
	if len(s.pending)+len(p) > cap(s.pending) {
		if err := s.flush(); err != nil {
			return 0, err
		}
	}
	if len(p) > cap(s.pending) {
		n, err := s.file.Write(p)
		s.size += int64(n)
		if err != nil {
			s.err = err
		}
		return n, err
	}
	s.pending = append(s.pending, p...)
	s.size += int64(len(p))
	return len(p), nil
}

// flush writes the buffered bytes to the temporary file.
func (s *Spool) flush() error {
	if s.err != nil || s.file == nil || len(s.pending) == 0 {
		return s.err
	}
	if _, err := s.file.Write(s.pending); err != nil {
		s.err = err
		return err
	}
	s.pending = s.pending[:0]
	return nil
}

// Err ends the writing: it writes out what is buffered for the temporary
// file, and returns the first error of Write or of that: ErrTooLarge past
// the limit, or the temporary file's.
func (s *Spool) Err() error { return s.flush() }

// Size is how many bytes the spool holds.
func (s *Spool) Size() int64 { return s.size }

// OnDisk reports whether the spool went to a temporary file.
func (s *Spool) OnDisk() bool { return s.file != nil }

// Reader returns a reader of everything written, from the start; each call
// starts again. Writing after Reader is not allowed.
func (s *Spool) Reader() (io.Reader, error) {
	if s.file == nil {
		return bytes.NewReader(s.mem.Bytes()), nil
	}
	if err := s.flush(); err != nil {
		return nil, err
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return io.LimitReader(s.file, s.size), nil
}

// WriteTo writes everything written to w, from the start. The temporary
// file itself goes to w's ReadFrom, when w has one, so that an HTTP
// response on a TCP connection sends it with sendfile, without copying it
// through user space.
func (s *Spool) WriteTo(w io.Writer) (int64, error) {
	if s.file == nil {
		n, err := w.Write(s.mem.Bytes())
		return int64(n), err
	}
	if err := s.flush(); err != nil {
		return 0, err
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	if rf, ok := w.(io.ReaderFrom); ok {
		return rf.ReadFrom(s.file)
	}
	return io.Copy(w, s.file)
}

// Bytes returns the whole content in memory (reading the temporary file
// when there is one): for a bill that must be opened in one piece.
func (s *Spool) Bytes() ([]byte, error) {
	if s.file == nil {
		return s.mem.Bytes(), nil
	}
	r, err := s.Reader()
	if err != nil {
		return nil, err
	}
	out := make([]byte, s.size)
	_, err = io.ReadFull(r, out)
	return out, err
}

// Close removes the temporary file, if any, and frees the memory. It may
// be called more than once.
func (s *Spool) Close() error {
	s.mem, s.pending = bytes.Buffer{}, nil
	if s.file == nil || s.removed {
		return nil
	}
	s.removed = true
	name := s.file.Name()
	err := s.file.Close()
	if rerr := os.Remove(name); rerr != nil && err == nil {
		err = rerr
	}
	return err
}
