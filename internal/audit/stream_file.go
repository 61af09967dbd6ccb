package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
)

// maxStreamLine bounds how far back FileSink looks for the start of the
// file's last line. A record's states are small; a line this long is not
// one of ours.
const maxStreamLine = 16 << 20

// FileSink appends records to a file as export lines, one per record,
// and syncs the file after each batch. It resumes after the file's last
// line, so a restart leaves no gap and no duplicate: the file alone is a
// full export that checks as docs/audit.md describes.
type FileSink struct {
	path   string
	logger *slog.Logger
	f      *os.File
	// last is the seq of the file's last line.
	last int64
	// unsure is set after a failed write or sync: part of the batch may
	// be in the file, so its end is read again before the next write.
	unsure bool
}

var _ Sink = (*FileSink)(nil)

// NewFileSink returns a sink appending to the file at path, created with
// mode 0600 on Open; logger (nil discards) hears of a torn last line
// being cut off.
func NewFileSink(path string, logger *slog.Logger) *FileSink {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &FileSink{path: path, logger: logger}
}

// Name is "file".
func (s *FileSink) Name() string { return "file" }

// Open opens (or creates) the file and reads back its last record. A last
// line without its newline is a write torn by a crash: it is cut off, and
// that record is written again. A last line that is not a record is an
// error: the file is not this stream's, and is not appended to.
func (s *FileSink) Open(ctx context.Context) (Position, error) {
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return Position{}, err // names the path and the cause
	}
	// Checked on the open descriptor, not the path, so what is read back
	// is what is appended to.
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		_ = f.Close()
		if err == nil {
			err = errors.New("not a regular file")
		}
		return Position{}, fmt.Errorf("%s: %w", s.path, err)
	}
	pos, err := s.tail(f)
	if err != nil {
		_ = f.Close()
		return Position{}, err
	}
	s.f, s.last, s.unsure = f, pos.Seq, false
	return pos, nil
}

// Write appends the lines the file does not hold yet and syncs it.
func (s *FileSink) Write(ctx context.Context, lines []Line) error {
	if s.f == nil {
		return errors.New("file sink is not open")
	}
	if s.unsure {
		pos, err := s.tail(s.f)
		if err != nil {
			return err
		}
		s.last, s.unsure = pos.Seq, false
	}
	var buf bytes.Buffer
	next, last := s.last, s.last
	for _, l := range lines {
		if l.Seq <= last {
			continue // written before a failed sync
		}
		if l.Seq != next+1 {
			return fmt.Errorf("%s: record %d does not follow the file's last record %d", s.path, l.Seq, next)
		}
		buf.Write(l.JSON)
		buf.WriteByte('\n')
		next = l.Seq
	}
	if buf.Len() == 0 {
		return nil
	}
	if _, err := s.f.Write(buf.Bytes()); err != nil {
		s.unsure = true
		return err
	}
	if err := s.f.Sync(); err != nil {
		s.unsure = true
		return err
	}
	s.last = next
	return nil
}

// Close closes the file.
func (s *FileSink) Close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// tail cuts a torn last line off f and returns the position of its last
// record (seq 0 for an empty file).
func (s *FileSink) tail(f *os.File) (Position, error) {
	fi, err := f.Stat()
	if err != nil {
		return Position{}, err
	}
	size := fi.Size()
	if size == 0 {
		return Position{}, nil
	}
	end, err := lastByte(f, size, '\n', size)
	if err != nil {
		return Position{}, fmt.Errorf("%s: %w", s.path, err)
	}
	if end+1 < size {
		// The crash came between writing a line and its newline; the
		// record is in the store and is written again whole.
		if err := f.Truncate(end + 1); err != nil {
			return Position{}, fmt.Errorf("%s: cut off the torn last line: %w", s.path, err)
		}
		s.logger.Warn("cut off a torn last line of the audit stream file", "path", s.path, "bytes", size-end-1)
		size = end + 1
	}
	if size == 0 {
		return Position{}, nil
	}
	start, err := lastByte(f, size-1, '\n', maxStreamLine)
	if err != nil {
		return Position{}, fmt.Errorf("%s: %w", s.path, err)
	}
	line := make([]byte, size-1-(start+1))
	if _, err := f.ReadAt(line, start+1); err != nil {
		return Position{}, fmt.Errorf("%s: read the last line: %w", s.path, err)
	}
	var last struct {
		Seq  int64  `json:"seq"`
		Hash string `json:"hash"`
	}
	if err := json.Unmarshal(line, &last); err != nil || last.Seq <= 0 || last.Hash == "" {
		return Position{}, fmt.Errorf("%s: the last line is not an audit record: not appending to a file this stream did not write", s.path)
	}
	return Position{Seq: last.Seq, Hash: last.Hash}, nil
}

// lastByte returns the offset of the last c in f before end, -1 when
// there is none; it looks at most limit bytes back.
func lastByte(f *os.File, end int64, c byte, limit int64) (int64, error) {
	const chunk = 64 << 10
	buf := make([]byte, chunk)
	floor := max(0, end-limit)
	for end > floor {
		n := min(int64(chunk), end-floor)
		b := buf[:n]
		if _, err := f.ReadAt(b, end-n); err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("read back: %w", err)
		}
		if i := bytes.LastIndexByte(b, c); i >= 0 {
			return end - n + int64(i), nil
		}
		end -= n
	}
	if floor > 0 {
		return 0, fmt.Errorf("the last line is longer than %d bytes: not an audit record", limit)
	}
	return -1, nil
}
