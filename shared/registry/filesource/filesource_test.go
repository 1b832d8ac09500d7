package filesource_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"gridcode/shared/registry/filesource"
)

func TestOpenAtOffset(t *testing.T) {
	t.Parallel()
	body := "姓名,证件号码\n张三,11010519491231002X\n"
	path := filepath.Join(t.TempDir(), "people.csv")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	f := filesource.File{Path: path}
	ctx := context.Background()
	if size, err := f.Size(ctx); err != nil || size != int64(len(body)) {
		t.Fatalf("size %d (err %v), want %d", size, err, len(body))
	}
	for _, offset := range []int64{0, 19, int64(len(body))} {
		rc, err := f.Open(ctx, offset)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(got) != body[offset:] {
			t.Errorf("open at %d read %q (err %v), want %q", offset, got, err, body[offset:])
		}
	}

	missing := filesource.File{Path: filepath.Join(t.TempDir(), "nope.csv")}
	if _, err := missing.Size(ctx); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("size of a missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := missing.Open(ctx, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("open of a missing file: %v, want fs.ErrNotExist", err)
	}
}
