package bill

import (
	"compress/gzip"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"sync/atomic"
)

// Digest computes, while a download is written to it, the SHA1 of the file
// and, when the file is gzip, the SHA1 of its decompression (in a goroutine
// fed through a pipe, so that the check is done when the last byte has
// arrived, not in a second pass). Finish or Abort must be called.
type Digest struct {
	file   hash.Hash
	state  int    // digestUndecided, digestPlain or digestGzip
	head   []byte // the first bytes, until gzip or not is known
	pw     *io.PipeWriter
	result chan []byte
	fed    atomic.Int64 // gzip bytes fed to the decompression so far
}

const (
	digestUndecided = iota
	digestPlain
	digestGzip
)

// NewDigest returns a digest that decompresses a gzip file to at most
// maxInflation bytes per byte of it received (past that, no digest of the
// decompression is made), as the spooled check does.
func NewDigest() *Digest {
	return &Digest{file: sha1.New()}
}

// errInflated stops a decompression that outgrew the bytes received.
var errInflated = errors.New("bill: gzip inflates past the bound")

// inflationBound hashes a decompression while it stays within maxInflation
// bytes per gzip byte fed so far (and a first MiB).
type inflationBound struct {
	h   hash.Hash
	d   *Digest
	out int64
}

func (b *inflationBound) Write(p []byte) (int, error) {
	b.out += int64(len(p))
	if b.out > b.d.fed.Load()*maxInflation+1<<20 {
		return 0, errInflated
	}
	return b.h.Write(p)
}

// Write implements io.Writer; it never fails.
func (d *Digest) Write(p []byte) (int, error) {
	d.file.Write(p)
	switch d.state {
	case digestUndecided:
		d.head = append(d.head, p...)
		if len(d.head) < 2 {
			break
		}
		d.state = digestPlain
		if d.head[0] == 0x1f && d.head[1] == 0x8b {
			d.state = digestGzip
			d.start()
			d.feed(d.head)
		}
		d.head = nil
	case digestGzip:
		d.feed(p)
	}
	return len(p), nil
}

func (d *Digest) start() {
	pr, pw := io.Pipe()
	d.pw, d.result = pw, make(chan []byte, 1)
	go func() {
		var sum []byte
		if zr, err := gzip.NewReader(pr); err == nil {
			h := sha1.New()
			if _, err := io.Copy(&inflationBound{h: h, d: d}, zr); err == nil {
				sum = h.Sum(nil)
			}
		}
		// Whatever gunzip left (trailing bytes, or all after an
		// error) is drained, so that Write never blocks.
		_, _ = io.Copy(io.Discard, pr)
		d.result <- sum
	}()
}

func (d *Digest) feed(p []byte) {
	if d.pw != nil {
		d.fed.Add(int64(len(p)))
		_, _ = d.pw.Write(p)
	}
}

// Finish ends the file and returns its digests.
func (d *Digest) Finish() sums {
	out := sums{gzip: d.state == digestGzip}
	if d.pw != nil {
		_ = d.pw.Close()
		out.bill = <-d.result
		d.pw = nil
	}
	out.file = d.file.Sum(nil)
	return out
}

// Abort stops the decompression goroutine of a download that is given up.
func (d *Digest) Abort() {
	if d.pw != nil {
		_ = d.pw.CloseWithError(io.ErrClosedPipe)
		<-d.result
		d.pw = nil
	}
}

// CheckDigest compares the digests of a plain (not encrypted) bill with
// its record: a match on the bill after decompression (as WeChat Pay
// documents hash_value) or on the file as sent counts.
func CheckDigest(rec *Record, d sums) (*Result, error) {
	want, err := hex.DecodeString(rec.HashValue)
	if err != nil || len(want) != sha1.Size {
		return nil, ErrMismatch
	}
	if covered := d.match(want, CoveredFile); covered != "" {
		return &Result{Covered: covered}, nil
	}
	return nil, ErrMismatch
}
