// Package filesource reads a registry file from disk, for the local
// import: each Open is a fresh file handle seeked to the checkpoint, as an
// S3 import resumes with a ranged GET.
package filesource

import (
	"context"
	"fmt"
	"io"
	"os"

	"gridcode/shared/registry"
)

// File is a registry file on disk.
type File struct {
	Path string
}

var _ registry.Source = File{}

// Size implements registry.Source.
func (f File) Size(context.Context) (int64, error) {
	fi, err := os.Stat(f.Path)
	if err != nil {
		return 0, fmt.Errorf("registry file: %w", err)
	}
	return fi.Size(), nil
}

// Open implements registry.Source: the file from offset on. The caller
// closes it.
func (f File) Open(_ context.Context, offset int64) (io.ReadCloser, error) {
	file, err := os.Open(f.Path)
	if err != nil {
		return nil, fmt.Errorf("registry file: %w", err)
	}
	if _, err := file.Seek(offset, io.SeekStart); err != nil {
		file.Close()
		return nil, fmt.Errorf("registry file: seek to %d: %w", offset, err)
	}
	return file, nil
}
